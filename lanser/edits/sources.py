"""Where edits come from, converted to the one internal form (a list of FileChange).

Three inputs are accepted by ``lanser apply``:

* an LSP ``WorkspaceEdit`` (``changes`` map or ``documentChanges`` list with text
  edits and create/rename/delete operations), positions in UTF-16 as LSP says,
  converted by :class:`lanser.lsp.facts.Normalizer` like any server answer;
* a lanser preview (what ``--json`` previews print): its ``changes`` are already in
  user coordinates and its ``base`` hashes make the apply refuse stale files;
* a unified diff (``git diff`` or ``diff -u``). Each hunk must match the file exactly
  at its stated line (no fuzz, no offset search: a patch that does not fit is
  refused with ``patch_mismatch``) and becomes one text edit replacing those lines.
  New lines take the file's line breaks. Binary patches are refused.
"""

from __future__ import annotations

import json
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
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"edit file: invalid JSON ({exc})", code="bad_edit") from None
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
            changes = Normalizer(_LexicalNames(root), Texts()).workspace_edit(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"edit file: bad WorkspaceEdit ({exc})", code="bad_edit") from None
        return EditInput(tuple(changes), "workspace_edit")
    raise UsageError("edit file: neither a WorkspaceEdit, a lanser preview nor a diff",
                     code="bad_edit")


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
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith(("\n", "\r")):
        return value[:-1]
    return value


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
        if pfile.is_added_file:
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
        if pfile.is_removed_file:
            # The edits prove the diff's idea of the file is the file; then it goes.
            out.append(FileChange("delete", source))
            continue
        if edits:
            out.append(FileChange("edit", source, edits))
        if source != target:
            out.append(FileChange("rename", source, new_path=target))
    return out


def _strip(name: str) -> str:
    name = name.split("\t")[0]
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def _hunk_edits(path: str, source: SourceText, pfile: Any) -> tuple[TextEdit, ...]:
    edits = []
    lines = source.lines
    for hunk in pfile:
        old: list[list[Any]] = []  # [content, has_eol]
        new: list[list[Any]] = []
        last: list[Any] | None = None
        for line in hunk:
            if line.line_type == "\\":
                if last is not None:
                    for item in last:
                        item[1] = False
                continue
            entry = [_content(line.value), True]
            if line.line_type == " ":
                twin = [entry[0], True]
                old.append(entry)
                new.append(twin)
                last = [entry, twin]
            elif line.line_type == "-":
                old.append(entry)
                last = [entry]
            elif line.line_type == "+":
                new.append(entry)
                last = [entry]
        start_line = hunk.source_start if old else hunk.source_start + 1
        start_line = max(start_line, 1)
        for index, (content, _) in enumerate(old):
            number = start_line + index
            if number > len(lines) or lines[number - 1] != content:
                found = lines[number - 1] if number <= len(lines) else "<end of file>"
                raise PatchMismatch(
                    f"{path}:{number}: the diff expects {content!r}, the file has {found!r}",
                    path=path, line=number)
        if start_line > len(lines):
            raise PatchMismatch(f"{path}:{start_line}: hunk starts past the end of the file",
                                path=path, line=start_line)
        start = Position(start_line, 1)
        last_line = start_line + len(old) - 1
        if not old:
            end = start
        elif not old[-1][1] or last_line + 1 > len(lines):
            end = Position(last_line, len(lines[last_line - 1]) + 1)
        else:
            end = Position(last_line + 1, 1)
        new_text = "".join(content + ("\n" if eol else "") for content, eol in new)
        edits.append(TextEdit(Span(start, end), new_text))
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
