"""User-facing positions and their one conversion to and from LSP coordinates.

Users and agents see 1-based lines and 1-based columns counted in Unicode code
points. LSP speaks 0-based lines and 0-based columns counted in UTF-16 code units.
Everything that crosses between the two goes through :class:`SourceText`, so the
rules live here once:

* lines are split on ``\\r\\n``, ``\\r`` and ``\\n`` only (what LSP counts), never on
  the other separators :meth:`str.splitlines` knows (form feed, U+2028, ...);
* a tab is one code point and one UTF-16 unit: no tab expansion, ever;
* a character outside the Basic Multilingual Plane (an emoji) is one code point
  and two UTF-16 units;
* a column may point one past the last character of its line (the end of line),
  never further;
* a server that counts columns in code points (``utf-32``: pylsp, which passes
  jedi's columns through unconverted) is spoken to in its own units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lanser.errors import PositionOutOfRange, UnreadableFile

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: Files larger than this are refused rather than read (agents do produce them).
MAX_SOURCE_BYTES = 8 * 1024 * 1024


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and a 1-based code-point column."""

    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range of two positions, ``start`` inclusive, ``end`` exclusive."""

    start: Position
    end: Position

    def to_json(self) -> dict[str, int]:
        return {
            "line": self.start.line,
            "col": self.start.col,
            "end_line": self.end.line,
            "end_col": self.end.col,
        }


class SourceText:
    """A file's text, with line-aware conversions between the coordinate systems."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        for match in _LINE_BREAK.finditer(text):
            starts.append(match.end())
        self._line_starts = starts
        # Line contents without their line break, for column arithmetic.
        self.lines = _LINE_BREAK.split(text)

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its line break."""
        self.check(Position(line, 1))
        return self.lines[line - 1]

    def check(self, pos: Position) -> Position:
        """Return ``pos`` if it lies in the text, else raise :class:`PositionOutOfRange`."""
        if pos.line < 1 or pos.line > len(self.lines):
            raise PositionOutOfRange(
                f"line {pos.line} is outside the file (it has {len(self.lines)} lines)",
                line=pos.line,
                lines=len(self.lines),
            )
        width = len(self.lines[pos.line - 1])
        if pos.col < 1 or pos.col > width + 1:
            raise PositionOutOfRange(
                f"column {pos.col} is outside line {pos.line} "
                f"(it has {width} characters; the last column is {width + 1})",
                line=pos.line,
                col=pos.col,
                width=width,
            )
        return pos

    # -- LSP <-> user ---------------------------------------------------------

    def to_lsp(self, pos: Position, encoding: str = "utf-16") -> tuple[int, int]:
        """User position -> LSP ``(line, character)``, 0-based, in ``encoding`` units."""
        self.check(pos)
        if encoding == "utf-32":
            return pos.line - 1, pos.col - 1
        prefix = self.lines[pos.line - 1][: pos.col - 1]
        return pos.line - 1, utf16_len(prefix)

    def from_lsp(self, line: int, character: int, encoding: str = "utf-16") -> Position:
        """LSP ``(line, character)`` -> user position, clamped into the text.

        Servers report positions one past the last line or inside a surrogate pair
        now and then; clamping keeps such answers usable instead of failing.
        """
        if line >= len(self.lines):
            last = len(self.lines)
            return Position(last, len(self.lines[last - 1]) + 1)
        line = max(line, 0)
        text = self.lines[line]
        if encoding == "utf-32":
            return Position(line + 1, min(max(character, 0), len(text)) + 1)
        units = 0
        for index, ch in enumerate(text):
            if units >= character:
                return Position(line + 1, index + 1)
            units += 2 if ord(ch) > 0xFFFF else 1
        return Position(line + 1, len(text) + 1)

    # -- offsets (code points into ``text``) ------------------------------------

    def offset(self, pos: Position) -> int:
        """Code-point offset into :attr:`text` of a user position."""
        self.check(pos)
        return self._line_starts[pos.line - 1] + pos.col - 1

    def position(self, offset: int) -> Position:
        """User position of a code-point offset into :attr:`text`."""
        if offset < 0 or offset > len(self.text):
            raise PositionOutOfRange(f"offset {offset} is outside the text")
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        col = offset - self._line_starts[lo] + 1
        # An offset inside a "\r\n" pair belongs to the end of its line.
        return Position(lo + 1, min(col, len(self.lines[lo]) + 1))


def read_source(path: Path, *, max_bytes: int = MAX_SOURCE_BYTES) -> SourceText:
    """Read a source file as UTF-8 text, refusing binary, undecodable or huge files."""
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(
            f"{path}: {size} bytes is more than lanser analyses ({max_bytes})",
            path=str(path),
        )
    return SourceText(decode_source(path.read_bytes(), path))


def decode_source(data: bytes, path: Path | str) -> str:
    """Decode file bytes as UTF-8 (BOM allowed), refusing binary content clearly."""
    if b"\x00" in data:
        raise UnreadableFile(f"{path}: binary file (contains NUL bytes)", path=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path}: not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})",
            path=str(path),
        ) from None
