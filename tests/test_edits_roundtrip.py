"""Property: the diff a preview prints, applied as a patch, gives exactly the previewed bytes.

This ties the two halves of the one internal form together: unified diffs in
(:mod:`lanser.edits.sources`) and unified diffs out (:mod:`lanser.edits.plan`),
over emoji, CRLF files and files without a final newline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanser.edits.jail import Jail
from lanser.edits.model import FileEffect
from lanser.edits.plan import plan, unified_diff
from lanser.edits.sources import from_unified_diff
from lanser.positions import SourceText

WORDS = st.sampled_from(["x", "value", "😀", "naïve", "def f():", "    return 1", "", "# é"])


@st.composite
def texts(draw: st.DrawFn, eol: str) -> str:
    lines = draw(st.lists(WORDS, min_size=0, max_size=8))
    if not lines:
        return ""
    final = draw(st.booleans())
    return eol.join(lines) + (eol if final else "")


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    before = draw(texts(eol))
    after = draw(texts(eol))
    return before, after


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
def test_printed_diff_reapplies_to_the_same_bytes(pair: tuple[str, str]) -> None:
    before, after = pair
    if before == after or not before:
        return
    effect = FileEffect("m.py", before.encode(), after.encode(), 0o644, 0o644)
    diff = unified_diff(effect)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "m.py").write_bytes(before.encode())
        changes = from_unified_diff(
            diff, lambda rel: SourceText((root / rel).read_bytes().decode("utf-8")))
        preview = plan(Jail(root, ()), changes, origin="roundtrip")
    assert preview.effects[0].after == after.encode()


CHARS = st.sampled_from([*"ab_ =\n", "😀", "é", "\r\n", "\t", "𝔘"])


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    text = "".join(draw(st.lists(CHARS, max_size=30)))
    # Offsets on code points that are not inside a "\r\n" pair.
    cuts = [i for i in range(len(text) + 1) if not (0 < i < len(text) and
                                                     text[i - 1] == "\r" and text[i] == "\n")]
    points = sorted(draw(st.lists(st.sampled_from(cuts), max_size=6)))
    edits = []
    for start, end in zip(points[::2], points[1::2], strict=False):
        edits.append((start, end, draw(st.sampled_from(["", "X", "😀😀", "long_name"]))))
    return text, edits


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_utf16_workspace_edit_lands_on_the_same_code_points(case) -> None:
    """An LSP edit (UTF-16 columns) changes exactly the characters a code-point splice does."""
    from lanser.edits.sources import from_json

    text, edits = case
    source = SourceText(text)
    expected, cursor = [], 0
    for start, end, new in edits:
        expected += [text[cursor:start], new]
        cursor = end
    expected.append(text[cursor:])
    if "".join(expected) == text:
        return

    def lsp(offset: int) -> dict:
        line, character = source.to_lsp(source.position(offset))
        return {"line": line, "character": character}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "m.py").write_bytes(text.encode())
        raw = {"changes": {(root / "m.py").as_uri(): [
            {"range": {"start": lsp(s), "end": lsp(e)}, "newText": n} for s, e, n in edits]}}
        preview = plan(Jail(root, ()), from_json(raw, root).changes, origin="utf16")
    # (The new texts hold no line break, so CRLF normalization has nothing to do.)
    assert preview.effects[0].after == "".join(expected).encode()
