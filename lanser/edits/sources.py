"""Where edits come from, converted to the one internal form (a list of FileChange).

Three inputs are accepted by ``lanser apply``:

* an LSP ``WorkspaceEdit`` (``changes`` map or ``documentChanges`` list with text
  edits and create/rename/delete operations), positions in UTF-16 as LSP says,
  converted by :class:`lanser.lsp.facts.Normalizer` like any server answer (the
  planner turns UTF-16 columns into code points against the text each step sees).
  ``textDocument.version`` means something only to a live session, which checks
  it (:meth:`lanser.lsp.service.LanguageService.rename`); from a file, use a
  lanser preview, whose ``base`` hashes are the stale check;
* a lanser preview (what ``--json`` previews print): its ``changes`` are already in
  user coordinates and its ``base`` hashes make the apply refuse stale files;
* a unified diff (``git diff`` or ``diff -u``). Each hunk must match the file exactly
  at its stated line (no fuzz, no offset search: a patch that does not fit is
  refused with ``patch_mismatch``) and becomes one text edit replacing those lines.
  New lines take the file's line breaks. Binary patches are refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.edits.model import PatchMismatch
from lanser.errors import UnreadableFile, UsageError
from lanser.lsp.facts import FileChange, TextEdit
from lanser.positions import Position, SourceText, Span, decode_source


@dataclass(frozen=True)
class EditInput:
    """An edit read from a file: its changes, and the hashes it expects (if it says)."""

    changes: tuple[FileChange, ...]
    kind: str
    base: dict[str, str] = field(default_factory=dict)


def parse_edit(text: str, root: Path, read: Callable[[str], SourceText | None]) -> EditInput:
    """Recognize and convert an edit file's text; ``read`` gives a file's current text."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        from lanser.jsonio import loads_bounded

        try:
            data = loads_bounded(text, what="edit file")
        except UsageError as exc:
            raise UsageError(exc.message, code="bad_edit") from None
        return from_json(data, root)
    return EditInput(tuple(from_unified_diff(text, read)), "patch")


def from_json(data: Any, root: Path) -> EditInput:
    if not isinstance(data, dict):
        raise UsageError("edit file: expected a JSON object", code="bad_edit")
    if isinstance(data.get("changes"), list):  # a lanser preview
        try:
            changes = tuple(_change_from_json(c) for c in data["changes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"edit file: bad change ({exc})", code="bad_edit") from None
        base = data.get("base") or {}
        if not isinstance(base, dict):
            raise UsageError("edit file: 'base' must map paths to hashes", code="bad_edit")
        return EditInput(changes, "preview", {str(k): str(v) for k, v in base.items()})
    if "changes" in data or "documentChanges" in data:
        from lanser.lsp.facts import Normalizer, Texts

        try:
            data = _apply_options(data, root)
            changes = Normalizer(_LexicalNames(root), Texts()).workspace_edit(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"edit file: bad WorkspaceEdit ({exc})", code="bad_edit") from None
        return EditInput(tuple(changes), "workspace_edit")
    raise UsageError("edit file: neither a WorkspaceEdit, a lanser preview nor a diff",
                     code="bad_edit")


def _apply_options(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """Resolve the options of LSP file operations into plain operations.

    ``ignoreIfExists`` / ``ignoreIfNotExists`` drop an operation, ``overwrite``
    deletes the file in the way first (so the old bytes are journaled and undoable);
    without options, creating or renaming onto an existing file is refused later.
    Existence is followed through the edit's own operations, in order.
    """
    from lanser.edits.jail import too_long
    from lanser.workspace import uri_to_path

    if not data.get("documentChanges"):
        return data
    created: set[str] = set()
    deleted: set[str] = set()

    def inside(uri: str) -> str | None:
        """The real path of ``uri`` when it lies in the workspace, else None. The jail
        comes before any probe: an edit must not learn whether an outside path exists
        (or is a directory) from what lanser answers (issue 17)."""
        path = str(uri_to_path(uri))
        if too_long(path):
            return None
        real = os.path.realpath(path)
        return real if real == str(root) or real.startswith(str(root) + os.sep) else None

    def exists(uri: str) -> bool:
        if uri in created:
            return True
        real = inside(uri)
        return uri not in deleted and real is not None and os.path.exists(real)

    def gone(uri: str) -> None:
        created.discard(uri)
        deleted.add(uri)

    def made(uri: str) -> None:
        deleted.discard(uri)
        created.add(uri)

    out = []
    for change in data["documentChanges"]:
        kind, options = change.get("kind"), change.get("options") or {}
        if kind == "create":
            if exists(change["uri"]):
                if options.get("overwrite"):
                    out.append({"kind": "delete", "uri": change["uri"]})
                elif options.get("ignoreIfExists"):
                    continue
            made(change["uri"])
        elif kind == "rename":
            if exists(change["newUri"]):
                if options.get("overwrite"):
                    out.append({"kind": "delete", "uri": change["newUri"]})
                elif options.get("ignoreIfExists"):
                    continue
            gone(change["oldUri"])
            made(change["newUri"])
        elif kind == "delete":
            real = inside(change["uri"])
            if real is None:  # kept as is, unprobed: the jail refuses it
                out.append(change)
                continue
            if os.path.isdir(real):
                raise UsageError(f"{change['uri']}: deleting directories is not supported",
                                 code="unsupported")
            if not exists(change["uri"]) and options.get("ignoreIfNotExists"):
                continue
            gone(change["uri"])
        out.append(change)
    return {**data, "documentChanges": out}


class _LexicalNames:
    """Names URIs as written, without following symlinks: the jail judges the real path
    itself, and its message should name the path the edit gave."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def name(self, path: Path) -> str:
        normal = Path(os.path.normpath(path))
        try:
            return normal.relative_to(self.root).as_posix()
        except ValueError:
            return normal.as_posix()


def _change_from_json(item: dict[str, Any]) -> FileChange:
    edits = tuple(
        TextEdit(Span(Position(int(e["line"]), int(e["col"])),
                      Position(int(e["end_line"]), int(e["end_col"]))), str(e["new_text"]))
        for e in item.get("edits", [])
    )
    return FileChange(str(item["kind"]), str(item["path"]), edits, item.get("new_path"))


def _content(value: str) -> str:
    return value[: len(value) - len(_eol(value))]


def _eol(value: str) -> str:
    if value.endswith("\r\n"):
        return "\r\n"
    if value.endswith(("\n", "\r")):
        return value[-1]
    return ""


def from_unified_diff(text: str, read: Callable[[str], SourceText | None]) -> list[FileChange]:
    import unidiff

    try:
        patch = unidiff.PatchSet(text)
    except unidiff.UnidiffParseError as exc:
        raise UsageError(f"edit file: not a unified diff ({exc})", code="bad_edit") from None
    if not len(patch):
        raise UsageError("edit file: no file changes in the diff", code="bad_edit")
    out: list[FileChange] = []
    for pfile in patch:
        if pfile.is_binary_file:
            raise UnreadableFile(f"{pfile.path}: binary patches are refused", path=pfile.path)
        source = _strip(pfile.source_file)
        target = _strip(pfile.target_file)
        # Only /dev/null makes a file new or gone: unidiff also guesses so from
        # "@@ -0,0" hunks, which a diff emptying a file has too.
        if source == "/dev/null":
            out.append(FileChange("create", target))
            hunks = _hunk_edits(target, SourceText(""), pfile)
            if hunks:
                out.append(FileChange("edit", target, hunks))
            continue
        current = read(source)
        if current is None:
            raise PatchMismatch(f"{source}: the diff changes a file that does not exist",
                                path=source)
        edits = _hunk_edits(source, current, pfile)
        if target == "/dev/null":
            # The edits prove the diff's idea of the file is the file; then it goes.
            out.append(FileChange("delete", source))
            continue
        if edits:
            out.append(FileChange("edit", source, edits))
        if source != target:
            out.append(FileChange("rename", source, new_path=target))
    return out


_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of unusual names (``"caf\\303\\251.py"``)."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, out, index = name[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char != "\\" or index + 1 == len(body):
            out += char.encode("utf-8")
            index += 1
        elif body[index + 1] in "01234567":
            out.append(int(body[index + 1:index + 4], 8) & 0xFF)
            index += 4
        else:
            out.append(_ESCAPES.get(body[index + 1], ord(body[index + 1])))
            index += 2
    return out.decode("utf-8", "surrogateescape")


def _strip(name: str) -> str:
    name = _unquote(name.split("\t")[0])
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def _hunk_lines(hunk: Any) -> list[tuple[str, str, str]]:
    """``(type, content, line break)`` per line; "\\ No newline" empties the break."""
    out: list[tuple[str, str, str]] = []
    for line in hunk:
        if line.line_type == "\\":
            if out:
                kind, content, _ = out[-1]
                out[-1] = (kind, content, "")
            continue
        if line.line_type in (" ", "-", "+"):
            out.append((line.line_type, _content(line.value), _eol(line.value) or "\n"))
    return out


def _hunk_edits(path: str, source: SourceText, pfile: Any) -> tuple[TextEdit, ...]:
    """One text edit per run of removed/added lines; context lines are only checked.

    Context lines keep their exact bytes (a CRLF line stays CRLF whatever the diff
    says); each added line keeps the break the diff gives it, and planning turns LF
    into CRLF in CRLF files.
    """
    lines = source.lines
    edits = []

    def expect(number: int, content: str) -> None:
        if number > len(lines) or lines[number - 1] != content:
            found = lines[number - 1] if number <= len(lines) else "<end of file>"
            raise PatchMismatch(
                f"{path}:{number}: the diff expects {content!r}, the file has {found!r}",
                path=path, line=number)

    for hunk in pfile:
        items = _hunk_lines(hunk)
        cursor = max(hunk.source_start if hunk.source_length else hunk.source_start + 1, 1)
        if cursor > len(lines):
            raise PatchMismatch(f"{path}:{cursor}: hunk starts past the end of the file",
                                path=path, line=cursor)
        index = 0
        while index < len(items):
            kind, content, _ = items[index]
            if kind == " ":
                expect(cursor, content)
                cursor += 1
                index += 1
                continue
            start, removed, added = cursor, [], []
            while index < len(items) and items[index][0] != " ":
                kind, content, eol = items[index]
                if kind == "-":
                    expect(cursor, content)
                    removed.append(eol)
                    cursor += 1
                else:
                    added.append(content + eol)
                index += 1
            if not removed:
                end = Position(start, 1)
            elif not removed[-1] or cursor > len(lines):
                end = Position(cursor - 1, len(lines[cursor - 2]) + 1)
            else:
                end = Position(cursor, 1)
            edits.append(TextEdit(Span(Position(start, 1), end), "".join(added)))
    return tuple(edits)


def read_text_or_none(path: Path) -> SourceText | None:
    """The text of a file for diff matching (None when it does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory", code="bad_edit") from None
    return SourceText(decode_source(data, path))
