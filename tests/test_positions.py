"""The one conversion between user positions and LSP UTF-16 positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lanser.errors import PositionOutOfRange, UnreadableFile
from lanser.positions import Position, SourceText, decode_source, utf16_len

EMOJI = "\U0001f600"  # outside the BMP: one code point, two UTF-16 units


def test_tab_is_one_column() -> None:
    text = SourceText("\tx = 1\n")
    assert text.to_lsp(Position(1, 2)) == (0, 1)
    assert text.from_lsp(0, 1) == Position(1, 2)


def test_emoji_counts_one_code_point_two_utf16_units() -> None:
    text = SourceText(f"s = '{EMOJI}'; y = 2\n")
    col_of_y = text.lines[0].index("y") + 1
    assert col_of_y == 10
    assert text.to_lsp(Position(1, col_of_y)) == (0, 10)  # one more unit than code points
    assert text.from_lsp(0, 10) == Position(1, col_of_y)


def test_crlf_and_lone_cr_split_lines_like_lsp() -> None:
    text = SourceText("a\r\nb\rc\nd\x0ce\u2028f")
    # \x0c (form feed) and U+2028 are not line breaks for LSP.
    assert text.lines == ["a", "b", "c", "d\x0ce\u2028f"]
    assert text.offset(Position(2, 1)) == 3
    assert text.position(3) == Position(2, 1)
    # An offset between \r and \n is the end of line 1.
    assert text.position(2) == Position(1, 2)


def test_column_past_end_of_line_is_refused() -> None:
    text = SourceText("abc\n")
    assert text.check(Position(1, 4)) == Position(1, 4)  # end of line is addressable
    with pytest.raises(PositionOutOfRange, match="column 5"):
        text.check(Position(1, 5))
    with pytest.raises(PositionOutOfRange, match="line 3"):
        text.check(Position(3, 1))
    with pytest.raises(PositionOutOfRange):
        text.check(Position(0, 1))


def test_from_lsp_clamps_out_of_range_server_positions() -> None:
    text = SourceText("ab\ncd")
    assert text.from_lsp(7, 0) == Position(2, 3)
    assert text.from_lsp(0, 99) == Position(1, 3)


def test_binary_and_non_utf8_are_refused_clearly() -> None:
    with pytest.raises(UnreadableFile, match="binary"):
        decode_source(b"abc\x00def", "x.bin")
    with pytest.raises(UnreadableFile, match="not valid UTF-8"):
        decode_source(b"caf\xe9", "x.py")
    assert decode_source("\ufeffx = 1".encode(), "bom.py") == "x = 1"


line_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")


@given(st.lists(st.text(alphabet=line_chars, max_size=12), min_size=1, max_size=5),
       st.sampled_from(["\n", "\r\n", "\r"]), st.data())
def test_round_trip_user_lsp_offset(lines: list[str], newline: str, data: st.DataObject) -> None:
    text = SourceText(newline.join(lines))
    line = data.draw(st.integers(1, len(lines)))
    col = data.draw(st.integers(1, len(lines[line - 1]) + 1))
    pos = Position(line, col)
    lsp_line, units = text.to_lsp(pos)
    assert units == utf16_len(lines[line - 1][: col - 1])
    assert text.from_lsp(lsp_line, units) == pos
    assert text.position(text.offset(pos)) == pos
