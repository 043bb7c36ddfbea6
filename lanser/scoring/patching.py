"""Locating a completion's blocks in the real files: bounded, reported fuzz.

Each block's ``old`` lines are looked for in the file as it stands after the blocks
before it, in this order, stopping at the first that finds something:

1. exactly at the line the block claims (a diff's ``@@``, shifted by the earlier
   blocks' growth);
2. exactly anywhere: one place is taken (an *offset*, not fuzz: the text is the
   same); several places: the nearest to the claimed line (ties: the earlier), or
   ``ambiguous_match`` when the block claims no line (SEARCH/REPLACE);
3. ignoring trailing whitespace on each line (fuzz 1);
4. a diff's outer context lines dropped, one more on each end per level, up to
   :data:`MAX_FUZZ` (fuzz = lines dropped per end). Never the changed lines.

Nothing matches: ``hunk_not_found``. The fuzz used is summed over blocks and
reported in the score; it is never widened silently past :data:`MAX_FUZZ`.
Replacement lines take the file's line break (the first one it has; LF in a new
file), and a file that ended without a final line break still does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lanser.errors import UsageError
from lanser.lsp.facts import FileChange, TextEdit
from lanser.positions import Position, SourceText, Span
from lanser.scoring.parse import Block, FileOp, Parsed

#: Context lines a diff hunk may lose at each end to find its place.
MAX_FUZZ = 2


@dataclass(frozen=True)
class Resolved:
    """New content per path (None: delete), or why the completion cannot apply.

    ``status`` is ``invalid`` (the text does not fit the files: the profile's
    invalid-action penalty) or ``refused`` (the envelope refused a path, e.g.
    ``outside_workspace``: the refusal penalty of that reason).
    """

    contents: dict[str, str | None] = field(default_factory=dict)
    fuzz: int = 0
    reason: str | None = None
    detail: str = ""
    status: str = "ok"

    @property
    def ok(self) -> bool:
        return self.reason is None


class _Fail(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def resolve(parsed: Parsed, read: Callable[[str], str | None]) -> Resolved:
    """Apply ``parsed``'s operations to the texts ``read`` gives (None: no such file).

    ``read`` jails the path first; its refusal (a :class:`UsageError`) becomes a
    ``refused`` result with the error's code.
    """
    if not parsed.ok:
        return Resolved(reason=parsed.reason, detail=parsed.detail, status="invalid")
    contents: dict[str, str | None] = {}
    fuzz = 0
    try:
        for op in parsed.ops:
            current = contents[op.path] if op.path in contents else read(op.path)
            new, used = _apply_op(op, current)
            contents[op.path] = new
            fuzz += used
    except _Fail as fail:
        return Resolved(reason=fail.reason, detail=fail.detail, status="invalid")
    except UsageError as exc:
        return Resolved(reason=exc.code, detail=exc.message, status="refused")
    return Resolved(contents, fuzz)


def _apply_op(op: FileOp, current: str | None) -> tuple[str | None, int]:
    if op.kind == "delete":
        if current is None:
            raise _Fail("file_not_found", f"{op.path}: deleted, but there is no such file")
        return None, 0
    if op.kind == "write":
        return _ensure_newline(op.content or ""), 0
    if op.kind == "create":
        if current is not None and current.strip():
            raise _Fail("file_exists", f"{op.path}: created, but it exists and is not empty")
        return _ensure_newline(op.content or ""), 0
    if current is None:
        raise _Fail("file_not_found", f"{op.path}: changed, but there is no such file")
    return _apply_blocks(op.path, current, op.blocks)


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _eol(text: str) -> str:
    for index, char in enumerate(text):
        if char == "\n":
            return "\r\n" if index and text[index - 1] == "\r" else "\n"
    return "\n"


def _apply_blocks(path: str, text: str, blocks: tuple[Block, ...]) -> tuple[str, int]:
    eol = _eol(text)
    final = text.endswith(("\n", "\r"))
    lines = SourceText(text).lines
    if final:
        lines = lines[:-1]  # the empty "line" after the last break
    shift = 0
    fuzz = 0
    for number, block in enumerate(blocks, 1):
        claimed = None if block.line is None else block.line + shift
        at, old, new, used = _locate(lines, block, claimed, path, number)
        lines[at:at + len(old)] = list(new)
        shift += len(new) - len(old)
        fuzz += used
    out = eol.join(lines)
    return (out + eol if (final or not text) and lines else out), fuzz


def _locate(lines: list[str], block: Block, claimed: int | None, path: str, number: int
            ) -> tuple[int, tuple[str, ...], tuple[str, ...], int]:
    """Where ``block`` goes: (index, old lines matched, new lines, fuzz used)."""
    if not block.old:  # a pure insertion
        at = min(max((claimed or 1) - 1, 0), len(lines))
        return at, (), block.new, 0
    for level in range(MAX_FUZZ + 2):
        if level <= 1:
            old, new = block.old, block.new
        else:
            cut = level - 1
            lead, trail = min(cut, block.lead), min(cut, block.trail)
            if lead + trail == 0 or (lead < cut and trail < cut):
                continue
            old = block.old[lead:len(block.old) - trail]
            new = block.new[lead:len(block.new) - trail]
            if not old:
                continue
        strip = level >= 1
        places = _places(lines, old, strip)
        if not places:
            continue
        if claimed is not None and claimed - 1 in places:
            at = claimed - 1
        elif len(places) == 1:
            at = places[0]
        elif claimed is None:
            raise _Fail("ambiguous_match", f"{path}: block {number} matches "
                        f"{len(places)} places (lines {', '.join(str(p + 1) for p in places[:5])})")
        else:
            at = min(places, key=lambda p: (abs(p - (claimed - 1)), p))
        if strip:  # keep the file's own bytes on the lines matched loosely
            new = tuple(new)
        return at, tuple(lines[at:at + len(old)]), new, level
    raise _Fail("hunk_not_found", f"{path}: block {number} ({len(block.old)} lines from "
                f"{block.old[0]!r}) is not in the file, even with fuzz {MAX_FUZZ}")


def _places(lines: list[str], old: tuple[str, ...], strip: bool) -> list[int]:
    n = len(old)
    if strip:
        want = [o.rstrip() for o in old]
        first = want[0]
        return [i for i in range(len(lines) - n + 1) if lines[i].rstrip() == first
                and [x.rstrip() for x in lines[i:i + n]] == want]
    first = old[0]
    return [i for i in range(len(lines) - n + 1)
            if lines[i] == first and tuple(lines[i:i + n]) == old]


def changes(contents: dict[str, str | None], exists: Callable[[str], str | None]
            ) -> list[FileChange]:
    """The envelope's edit form: one whole-file text edit per changed file, a create
    before a new file's edit, a delete for a removed one; files left as they were are
    left out. ``exists`` gives a path's current text (None: absent)."""
    out: list[FileChange] = []
    for path in sorted(contents):
        new, old = contents[path], exists(path)
        if new == old:
            continue
        if new is None:
            out.append(FileChange("delete", path))
            continue
        if old is None:
            out.append(FileChange("create", path))
            old = ""
        source = SourceText(old)
        end = Position(source.line_count, len(source.lines[-1]) + 1)
        out.append(FileChange("edit", path, (TextEdit(Span(Position(1, 1), end), new),)))
    return out


__all__ = ["MAX_FUZZ", "Resolved", "changes", "resolve"]
