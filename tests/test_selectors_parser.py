"""Selector parser: conformance vectors, canonical round trip, and a kept fuzz test."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from lanser.errors import BadSelector
from lanser.selectors.parser import parse_selector
from lanser.selectors.syntax import format_selector

VECTORS = REPO / "selectors" / "conformance"
VALID = json.loads((VECTORS / "valid.json").read_text(encoding="utf-8"))
INVALID = json.loads((VECTORS / "invalid.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", VALID, ids=lambda c: c["input"])
def test_valid_vectors(case: dict) -> None:
    parsed = parse_selector(case["input"])
    assert parsed.to_json() == case["parsed"]
    assert parse_selector(format_selector(parsed)) == parsed  # canonical round trip


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c["input"])
def test_invalid_vectors(case: dict) -> None:
    with pytest.raises(BadSelector) as info:
        parse_selector(case["input"])
    assert info.value.code == case["error"]
    assert info.value.details["column"] == case["column"]
    assert "expected" in info.value.message


_ALPHABET = st.sampled_from([*'ab.py/:@"#?[]=,-()>LRC0123456789_ \\%\t😀', "::", "//", "..",
                             "py://", "ast://", "anchor://", "[name=", "@R("])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join) | st.text(max_size=40))
def test_parser_never_crashes(text: str) -> None:
    try:
        parsed = parse_selector(text)
    except BadSelector as exc:
        assert 1 <= exc.details.get("column", 1) <= len(text) + 1
        return
    assert parse_selector(format_selector(parsed)) == parsed
