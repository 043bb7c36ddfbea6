"""Finding a snippet in text: exactly, then ignoring whitespace, then fuzzily.

Kept apart from the resolver because relocation uses the same search with its own
scoring. Offsets are code points into the file's text, so an anchor lands on its
snippet's first character at any column, after tabs and emoji alike (the published
implementation landed one column off).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass

#: Exact matches only beyond this many are not enumerated (a snippet like "a").
MAX_MATCHES = 1000
#: A fuzzy match needs at least this similarity to be a candidate at all.
FUZZY_FLOOR = 0.75
#: Confidence of a fuzzy match is its similarity times this: never above the default
#: threshold (0.8) on its own, because a near miss is weak evidence.
FUZZY_WEIGHT = 0.7
#: Confidence of a match that differs only in whitespace.
WHITESPACE_CONFIDENCE = 0.9


@dataclass(frozen=True)
class Match:
    """Where a snippet matched: ``[offset, end)`` of the text that matched.

    ``end`` is the matched text's end, not ``offset + len(snippet)``: a
    whitespace-insensitive or fuzzy match is longer or shorter than the snippet.
    """

    offset: int
    end: int
    confidence: float
    method: str
    reasons: tuple[str, ...] = ()


def line_hash(line: str) -> str:
    """The content hash a captured anchor carries: of its line, whitespace-stripped."""
    return "sha256:" + hashlib.sha256(line.strip().encode("utf-8")).hexdigest()[:12]


def exact_offsets(text: str, snippet: str, lo: int = 0, hi: int | None = None) -> list[int]:
    hi = len(text) if hi is None else hi
    found, at = [], text.find(snippet, lo, hi)
    while at >= 0 and len(found) < MAX_MATCHES:
        found.append(at)
        at = text.find(snippet, at + 1, hi)
    return found


def context_similarity(text: str, offset: int, end: int, before: str, after: str) -> float:
    """How well the text around a match agrees with the recorded context, in [0, 1]."""
    scores = []
    if before:
        seen = text[max(0, offset - len(before)):offset]
        scores.append(1.0 if seen == before else
                      difflib.SequenceMatcher(None, seen, before, autojunk=False).ratio())
    if after:
        seen = text[end:end + len(after)]
        scores.append(1.0 if seen == after else
                      difflib.SequenceMatcher(None, seen, after, autojunk=False).ratio())
    return sum(scores) / len(scores) if scores else 1.0


def find(text: str, snippet: str, *, before: str = "", after: str = "",
         occurrence: int | None = None, lo: int = 0, hi: int | None = None) -> list[Match]:
    """Every place ``snippet`` plausibly is in ``text[lo:hi]``, best first.

    Exact matches first. With context, the matches whose context agrees exactly are
    kept; if none agrees, all are kept, scored by how well their context agrees.
    ``occurrence`` (0-based) then picks one. Several left: each gets 1/n, because
    the selector does not say which. No exact match: whitespace-insensitive, then
    line-wise fuzzy matching, with confidences that stay below the default threshold.
    """
    hi = len(text) if hi is None else hi
    exact = [(o, o + len(snippet)) for o in exact_offsets(text, snippet, lo, hi)]
    if exact:
        if before or after:
            sims = {o: context_similarity(text, o, e, before, after) for o, e in exact}
            agreeing = [(o, e) for o, e in exact if sims[o] == 1.0]
            if agreeing:
                return _pick(agreeing, occurrence, 1.0, "anchor", ())
            ranked = sorted(exact, key=lambda span: (-sims[span[0]], span[0]))
            if occurrence is not None:
                ranked = exact
            matches = _pick(ranked, occurrence, 1.0, "anchor", ())
            return [Match(m.offset, m.end,
                          round(m.confidence * (0.5 + 0.4 * sims[m.offset]), 3),
                          "anchor-context-fuzzy",
                          (*m.reasons, f"context agrees {sims[m.offset]:.0%}"))
                    for m in matches]
        return _pick(exact, occurrence, 1.0, "anchor", ())
    loose = _whitespace_matches(text, snippet, lo, hi)
    if loose:
        return _pick(loose, occurrence, WHITESPACE_CONFIDENCE, "anchor-whitespace",
                     ("matched ignoring whitespace",))
    return _fuzzy(text, snippet, lo, hi)


def _pick(spans: list[tuple[int, int]], occurrence: int | None, base: float, method: str,
          reasons: tuple[str, ...]) -> list[Match]:
    if occurrence is not None:
        if occurrence >= len(spans):
            return []
        return [Match(*spans[occurrence], base, method, reasons)]
    if len(spans) == 1:
        return [Match(*spans[0], base, method, reasons)]
    why = (*reasons, f"ambiguous: {len(spans)} matches; add n=INDEX or context")
    return [Match(o, e, round(base / len(spans), 3), method, why) for o, e in spans]


def _whitespace_matches(text: str, snippet: str, lo: int, hi: int) -> list[tuple[int, int]]:
    words = snippet.split()
    if not words:
        return []
    pattern = re.compile(r"\s*".join(re.escape(w) for w in words))
    return [(m.start(), m.end()) for m in pattern.finditer(text, lo, hi)][:MAX_MATCHES]


def _fuzzy(text: str, snippet: str, lo: int, hi: int) -> list[Match]:
    """Line-wise similarity of the snippet's first line; lands where its start maps.

    The match spans from there to the end of the similar line's text (what matched).
    """
    first = snippet.split("\n", 1)[0]
    key = first.strip()
    if len(key) < 3:
        return []
    found: list[Match] = []
    pos = lo
    for line in text[lo:hi].split("\n"):
        stripped = line.strip()
        if stripped and abs(len(stripped) - len(key)) <= max(len(key), 8):
            matcher = difflib.SequenceMatcher(None, key, stripped, autojunk=False)
            if matcher.real_quick_ratio() >= FUZZY_FLOOR and matcher.ratio() >= FUZZY_FLOOR:
                ratio = matcher.ratio()
                lead = len(line) - len(line.lstrip())
                blocks = [b for b in matcher.get_matching_blocks() if b.size]
                shift = blocks[0].b - blocks[0].a if blocks else 0
                found.append(Match(pos + lead + max(shift, 0), pos + len(line.rstrip()),
                                   round(FUZZY_WEIGHT * ratio, 3), "anchor-fuzzy",
                                   (f"fuzzy match, {ratio:.0%} similar",)))
        pos += len(line) + 1
    found.sort(key=lambda m: (-m.confidence, m.offset))
    if len(found) > 1 and found[0].confidence - found[1].confidence < 0.05:
        found = [Match(m.offset, m.end, round(m.confidence * 0.8, 3), m.method,
                       (*m.reasons, "several similar lines")) for m in found]
    return found[:10]
