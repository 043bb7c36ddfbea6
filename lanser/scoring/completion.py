"""A model's completion read in the form it was written: the one dispatcher.

:func:`parse_completion` drops the reasoning (the text up to the last ``</think>``:
a draft diff inside it is not the answer), then reads the rest as the format asked
for, or, with ``auto``, as the first form found: tool calls
(:mod:`lanser.scoring.tools`), SEARCH/REPLACE blocks, a unified diff, fenced whole
files (:mod:`lanser.scoring.parse`). It sits above both readers, so the tool-call
reader can reuse the diff reader without a cycle.
"""

from __future__ import annotations

import re

from lanser.scoring.parse import (
    FORMATS,
    SEARCH_RE,
    Parsed,
    parse_diff,
    parse_search_replace,
    parse_whole_file,
)
from lanser.scoring.tools import parse_tool_calls

_READERS = {"diff": parse_diff, "search-replace": parse_search_replace,
            "whole-file": parse_whole_file, "tool-calls": parse_tool_calls}


def parse_completion(text: str, fmt: str = "auto") -> Parsed:
    """Read ``text`` as ``fmt`` (``auto``: the first form found, tool calls first).

    Raises ``ValueError`` only for an unknown ``fmt`` (the caller's mistake); every
    model text gives a :class:`Parsed`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown completion format {fmt!r}: expected one of "
                         f"{', '.join(FORMATS)}")
    text = _answer(text)
    if fmt != "auto":
        return _READERS[fmt](text)
    if _looks_like_tool_calls(text):
        found = parse_tool_calls(text)
        if found.reason != "no_edit_found":
            return found
    if SEARCH_RE.search(text):
        return parse_search_replace(text)
    if re.search(r"^@@.*@@|^--- \S", text, re.M):
        found = parse_diff(text)
        if found.ok:
            return found
    found = parse_whole_file(text)
    if found.ok:
        return found
    return Parsed("auto", reason="no_edit_found", detail="no diff, SEARCH/REPLACE block, "
                  "fenced file with a path or tool call found")


def _answer(text: str) -> str:
    """The text after the last ``</think>`` (the reasoning is not the answer)."""
    if not isinstance(text, str):
        return ""
    end = text.rfind("</think>")
    return text[end + len("</think>"):] if end >= 0 else text


def _looks_like_tool_calls(text: str) -> bool:
    return "<tool_call>" in text or bool(re.match(r"\s*[\[{]", text)) or bool(
        re.search(r"^```json", text, re.M))
