"""Planning: run an edit's changes against the files in memory and see what they do.

The changes (:class:`lanser.lsp.facts.FileChange`, in order) are played on a virtual
copy of the files they touch, read from disk once. The result is one
:class:`~lanser.edits.model.FileEffect` per file with the exact bytes before and
after, and the unified diff a preview prints. Nothing is written here.

Coordinate and byte rules, applied once here:

* text edits are in user coordinates (1-based code points) and are applied with
  :meth:`SourceText.offset` on the decoded text: never a UTF-16 offset used as a
  ``str`` index (the published tool's rename broke after an emoji that way);
* LSP edits (:class:`~lanser.lsp.facts.LspTextEdit`, UTF-16 columns) are converted
  here, against the text *as the earlier changes of the same edit left it*: a file
  the edit just created or renamed has no bytes on disk, and a second edit of one
  file counts columns in the first one's result. The preview keeps the converted
  changes, so its ``changes`` replay in user coordinates;
* a UTF-8 byte-order mark is kept; binary or non-UTF-8 files are refused;
* in a file whose line breaks are mostly CRLF, line breaks in inserted text become
  CRLF, so a CRLF file stays CRLF;
* the mode of a file survives edits and renames; created files get the umask's.
"""

from __future__ import annotations

import codecs
import difflib
import itertools
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from lanser.edits.jail import Jail
from lanser.edits.model import EditConflict, FileEffect, Preview
from lanser.errors import UsageError
from lanser.lsp.facts import FileChange, LspTextEdit, TextEdit
from lanser.positions import SourceText, decode_source

_LONE_LF = re.compile(r"(?<!\r)\n")
_IDENT = re.compile(r"^\w+$")
# Lines with their breaks, split only where LSP splits (not str.splitlines' extras).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass
class _File:
    """A file's state during planning: original bytes and the bytes now."""

    rel: str
    original: bytes | None
    mode: int | None
    current: bytes | None
    current_mode: int | None
    edits: int = 0
    renamed_from: str | None = None


class Planner:
    """Plays changes on an in-memory copy of the workspace, through the jail."""

    def __init__(self, jail: Jail) -> None:
        self.jail = jail
        self.files: dict[str, _File] = {}
        self.symbols: set[str] = set()
        #: The changes played, their edits in user coordinates (what a preview keeps).
        self.played: list[FileChange] = []

    def _file(self, given: str) -> _File:
        target = self.jail.check(given)
        if target.rel not in self.files:
            data: bytes | None = None
            mode: int | None = None
            if target.path.exists():
                info = target.path.stat()
                if not stat.S_ISREG(info.st_mode):
                    raise EditConflict(f"{given}: not a regular file", path=given)
                data = target.path.read_bytes()
                mode = stat.S_IMODE(info.st_mode)
            self.files[target.rel] = _File(target.rel, data, mode, data, mode)
        entry = self.files[target.rel]
        if target.is_symlink and entry.current is None:
            raise EditConflict(f"{given}: a symlink to a missing file", path=given)
        return entry

    def _no_symlink(self, given: str, op: str) -> None:
        if self.jail.check(given).is_symlink:
            raise EditConflict(f"{given}: will not {op} a symlink", path=given)

    def play(self, change: FileChange) -> None:
        if change.kind == "edit":
            entry = self._file(change.path)
            if entry.current is None:
                raise EditConflict(f"{change.path}: cannot edit, no such file", path=change.path)
            entry.current, edits = self._edit_bytes(change.path, entry.current, change.edits)
            entry.edits += len(change.edits)
            change = FileChange("edit", change.path, edits)
        elif change.kind == "create":
            entry = self._file(change.path)
            if entry.current is not None:
                raise EditConflict(f"{change.path}: cannot create, the file exists",
                                   path=change.path)
            entry.current, entry.current_mode = b"", None
        elif change.kind == "delete":
            self._no_symlink(change.path, "delete")
            entry = self._file(change.path)
            if entry.current is None:
                raise EditConflict(f"{change.path}: cannot delete, no such file",
                                   path=change.path)
            entry.current, entry.current_mode = None, None
        elif change.kind == "rename":
            if change.new_path is None:
                raise UsageError(f"{change.path}: rename without a new path", code="bad_edit")
            self._no_symlink(change.path, "rename")
            source = self._file(change.path)
            dest = self._file(change.new_path)
            if source.current is None:
                raise EditConflict(f"{change.path}: cannot rename, no such file",
                                   path=change.path)
            if dest.current is not None:
                raise EditConflict(f"{change.new_path}: cannot rename onto an existing file",
                                   path=change.new_path)
            dest.current, dest.current_mode = source.current, source.current_mode
            dest.edits += source.edits
            dest.renamed_from = source.renamed_from or source.rel
            source.current, source.current_mode = None, None
        else:
            raise UsageError(f"unknown change kind {change.kind!r}", code="bad_edit")
        self.played.append(change)

    def _edit_bytes(self, given: str, data: bytes, edits: Iterable[TextEdit | LspTextEdit]
                    ) -> tuple[bytes, tuple[TextEdit, ...]]:
        """The bytes after ``edits``, and the edits in user coordinates of ``data``."""
        bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
        source = SourceText(decode_source(data, given))
        crlf = _mostly_crlf(source.text)
        resolved = tuple(e.resolve(source) if isinstance(e, LspTextEdit) else e for e in edits)
        spans = []
        for edit in resolved:
            start, end = source.offset(edit.span.start), source.offset(edit.span.end)
            if end < start:
                raise UsageError(f"{given}: edit ends before it starts at {edit.span.start}",
                                 code="bad_edit", path=given)
            new = _LONE_LF.sub("\r\n", edit.new_text) if crlf else edit.new_text
            old = source.text[start:end]
            if _IDENT.match(old) and _IDENT.match(new) and old != new:
                self.symbols.add(f"{old} -> {new}")
            spans.append((start, end, new))
        # Stable sort: inserts at one position keep the order the edit gave them.
        spans.sort(key=lambda s: (s[0], s[1]))
        for (_, end, _), (start, _, _) in itertools.pairwise(spans):
            if start < end:
                raise EditConflict(f"{given}: overlapping edits", path=given)
        # One pass, pieces joined once: linear in the file, however many edits.
        pieces, cursor = [], 0
        for start, end, new in spans:
            pieces += [source.text[cursor:start], new]
            cursor = end
        pieces.append(source.text[cursor:])
        try:
            return bom + "".join(pieces).encode("utf-8"), resolved
        except UnicodeEncodeError:  # a lone surrogate in new text (JSON allows "\ud83d")
            raise UsageError(f"{given}: the edit's new text is not valid Unicode",
                             code="bad_edit", path=given) from None

    def effects(self) -> tuple[FileEffect, ...]:
        out = []
        for rel in sorted(self.files):
            entry = self.files[rel]
            if entry.current == entry.original and entry.current_mode == entry.mode:
                continue
            out.append(FileEffect(rel, entry.original, entry.current, entry.mode,
                                  entry.current_mode, entry.edits, entry.renamed_from))
        return tuple(out)


def plan(jail: Jail, changes: Iterable[FileChange], *, origin: str,
         symbols: Iterable[str] = ()) -> Preview:
    """Preview ``changes``: their effect on every file, the diff, the summary.

    Refuses (raises) on anything the jail denies, binary files, overlapping edits,
    and an edit that changes nothing.
    """
    changes = tuple(changes)
    planner = Planner(jail)
    for change in changes:
        planner.play(change)
    effects = planner.effects()
    for effect in effects:
        jail.check_content(effect.path, effect.before, effect.after)
    if not effects:
        raise UsageError("the edit changes nothing", code="empty_edit")
    diff = "".join(unified_diff(e) for e in effects)
    names = sorted({*symbols, *planner.symbols, *(n for e in effects for n in renamed_words(e))})
    return Preview(origin, tuple(planner.played), effects, diff, tuple(names))


_TOKEN = re.compile(r"\w+|[^\w\s]")


def renamed_words(effect: FileEffect) -> set[str]:
    """``old -> new`` for each identifier the effect replaces by another (diffs too)."""
    before, after = _lines(effect.before), _lines(effect.after)
    if not before or not after:
        return set()
    found = set()
    lines = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in lines.get_opcodes():
        if op != "replace":
            continue
        old = _TOKEN.findall("".join(before[i1:i2]))
        new = _TOKEN.findall("".join(after[j1:j2]))
        tokens = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for top, a1, a2, b1, b2 in tokens.get_opcodes():
            if top == "replace" and a2 - a1 == 1 and b2 - b1 == 1 and \
                    _IDENT.match(old[a1]) and _IDENT.match(new[b1]):
                found.add(f"{old[a1]} -> {new[b1]}")
    return found


def _mostly_crlf(text: str) -> bool:
    crlf = text.count("\r\n")
    return crlf > 0 and crlf * 2 >= text.count("\n")


def unified_diff(effect: FileEffect) -> str:
    """``git diff``-style text of one file's effect (bytes shown as UTF-8)."""
    old_name = effect.renamed_from or effect.path
    head = f"diff --git a/{old_name} b/{effect.path}\n"
    if effect.renamed_from:
        head += f"rename from {effect.renamed_from}\nrename to {effect.path}\n"
    if effect.before is None:
        head += f"new file mode {_git_mode(effect.after_mode)}\n"
    elif effect.after is None:
        head += f"deleted file mode {_git_mode(effect.before_mode)}\n"
    elif effect.before_mode != effect.after_mode and effect.after_mode is not None:
        head += (f"old mode {_git_mode(effect.before_mode)}\n"
                 f"new mode {_git_mode(effect.after_mode)}\n")
    before = _lines(effect.before)
    after = _lines(effect.after)
    if before is None or after is None:
        return head + f"Binary files a/{old_name} and b/{effect.path} differ\n"
    if before == after:
        return head
    from_name = "/dev/null" if effect.before is None else f"a/{old_name}"
    to_name = "/dev/null" if effect.after is None else f"b/{effect.path}"
    out = [head]
    for line in difflib.unified_diff(before, after, from_name, to_name, lineterm="\n"):
        if line.startswith(("---", "+++")):
            line = line.rstrip("\n") + "\n"  # difflib puts names on one line anyway
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(data: bytes | None) -> list[str] | None:
    if data is None:
        return []
    try:
        text = decode_source(data, "")
    except UsageError:
        return None
    return _LINE.findall(text)


def _git_mode(mode: int | None) -> str:
    return "100755" if mode is not None and mode & 0o111 else "100644"
