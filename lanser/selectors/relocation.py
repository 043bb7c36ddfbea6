"""Relocation: find, in a new snapshot, the code a selector addressed in an old one.

The algorithm (SPEC.md, "Relocation", is the reference; the constants below are the
ones it names):

1. Resolve the selector on the old snapshot: that is the *origin*, the exact place
   it meant then (a selector that was not confident there cannot be relocated).
2. Fast path: the origin's file is unchanged in the new snapshot -> same place, 1.0.
3. Gather candidates in the new snapshot, from independent strategies:
   ``diff`` (the origin's line maps through a line diff of the file onto an unchanged
   line: same column there; ``diff-edited``: onto the line that replaced it, at the
   token), ``selector`` (the selector itself resolved anew; ``position`` for a bare
   position, which is the naive baseline and corroborates nothing),
   ``anchor`` (every exact occurrence of the origin's token in the same file, and in
   every other file when the file is gone or holds none: moves), ``symbol`` (a
   definition's name: the definition of the same qualified name anywhere) and
   ``fuzzy`` (near-miss lines, when nothing exact is found).
4. Score each candidate from evidence that does not depend on how it was found:
   context around it (``WINDOW`` code points each side, similar and aligned) against
   the origin's, the token itself there, the same enclosing definition, proximity;
   then corroborations (diff, diff-edited, symbol, selector) each close half the gap.
5. Confidence = min(best score, its share of the odds against the runner-up): two
   near-equal places mean we do not know which. Found when the confidence reaches
   the threshold; otherwise lost, with the candidates listed.
6. A range relocates each end so; found only when both are, in one file, in order.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from lanser.errors import LanserError, NotFound
from lanser.positions import Position
from lanser.selectors import anchors
from lanser.selectors.pytree import PyDoc
from lanser.selectors.resolver import confident, resolve
from lanser.selectors.snapshot import Snapshot
from lanser.selectors.syntax import Parsed, Range, Selector

#: Code points of context compared on each side of a candidate.
WINDOW = 48
#: Content score weights: context similarity, token present, same enclosing
#: definition, proximity (same file). They sum to 1.
WEIGHTS = {"context": 0.5, "token": 0.2, "scope": 0.25, "near": 0.05}
#: Corroborations: each closes this share of the remaining gap to 1. ``diff``: the
#: line diff maps the origin here (``diff-edited``: onto the line that replaced it);
#: ``symbol``: the same definition (qualified name and kind) is here; ``selector``:
#: the selector itself resolves here confidently (never a bare position: that is the
#: naive baseline, source ``position``, and no evidence of its own).
CORROBORATION = 0.5
#: An edited line maps to its replacement when they are this similar (difflib ratio,
#: stripped), the runner-up line in the replaced block is this much less so, and the
#: block has at most this many lines a side.
EDITED_SIMILARITY = 0.75
EDITED_MARGIN = 0.1
EDITED_BLOCK = 8
#: Found at or above this confidence; below, lost (the default query threshold too).
THRESHOLD = 0.8
#: Candidates scored at most (the best of the cheap pre-ranking).
TOP_K = 50


@dataclass(frozen=True)
class Relocated:
    """A relocation's outcome: found or lost, where, how sure and why."""

    status: str
    selector: str
    origin: dict[str, Any]
    path: str | None = None
    position: Position | None = None
    confidence: float = 0.0
    method: str = ""
    reasons: tuple[str, ...] = ()
    candidates: tuple[dict[str, Any], ...] = field(default=())
    end: Position | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "selector": self.selector,
                               "origin": self.origin, "confidence": self.confidence,
                               "method": self.method, "reasons": list(self.reasons),
                               "candidates": list(self.candidates)}
        if self.position is not None:
            out.update(path=self.path, line=self.position.line, col=self.position.col)
        if self.end is not None:
            out.update(end_line=self.end.line, end_col=self.end.col)
        return out


@dataclass
class _Cand:
    path: str
    offset: int
    sources: set[str] = field(default_factory=set)
    score: float = 0.0
    evidence: dict[str, float] = field(default_factory=dict)


class Relocator:
    """Relocates selectors from ``old`` to ``new``; caches diffs across many calls."""

    def __init__(self, old: Snapshot, new: Snapshot, *, threshold: float = THRESHOLD,
                 top_k: int = TOP_K) -> None:
        self.old, self.new, self.threshold, self.top_k = old, new, threshold, top_k
        #: How many relocations scored candidates, and how many had to drop some to
        #: stay within ``top_k`` (the benchmark reports both).
        self.stats = {"scored": 0, "truncated": 0}
        self._line_maps: dict[str, dict[int, tuple[int, bool]]] = {}
        self._scopes: dict[tuple[int, str, int], float] = {}

    def relocate(self, text: str, parsed: Parsed | None = None) -> Relocated:
        if parsed is None:
            from lanser.selectors.parser import parse_selector

            parsed = parse_selector(text)
        if isinstance(parsed, Range):
            return self._relocate_range(text, parsed)
        return self._relocate_one(text, parsed)

    def _relocate_range(self, text: str, rng: Range) -> Relocated:
        """Both ends relocate on their own; found only when both are, in one file, in order."""
        start = self._relocate_one(text, rng.start)
        end = self._relocate_one(text, rng.end)
        origin = {**start.origin, "end_line": end.origin["line"], "end_col": end.origin["col"]}
        if end.origin["path"] != start.origin["path"] or \
                (end.origin["line"], end.origin["col"]) < (start.origin["line"],
                                                           start.origin["col"]):
            raise NotFound(f"range {text!r} does not resolve in {self.old.label} to one "
                           "forward span: nothing to relocate", code="not_at_origin",
                           selector=text, candidates=[])
        reasons = [*(f"start: {r}" for r in start.reasons), *(f"end: {r}" for r in end.reasons)]
        confidence = min(start.confidence, end.confidence)
        lost = [f"the {name} is lost" for name, r in (("start", start), ("end", end))
                if r.status != "found"]
        broken = None
        if not lost and end.path != start.path:
            broken = f"the ends moved to different files ({start.path}, {end.path})"
        elif not lost and end.position is not None and start.position is not None and \
                end.position < start.position:
            broken = f"the end ({end.position}) moved before the start ({start.position})"
        if broken is not None:  # each end is sure of itself; the span they make is not one
            lost, confidence = [broken], 0.0
        return Relocated("lost" if lost else "found", text, origin, start.path,
                         start.position, confidence, f"range({start.method}..{end.method})",
                         (*lost, *reasons), start.candidates, end=end.position)

    def _relocate_one(self, text: str, parsed: Selector) -> Relocated:
        origins = resolve(self.old, parsed)
        if not confident(origins, self.threshold):
            raise NotFound(f"selector {text!r} does not resolve confidently in "
                           f"{self.old.label}: nothing to relocate",
                           code="not_at_origin", selector=text,
                           candidates=[c.to_json() for c in origins[:10]])
        origin = origins[0]
        doc = self.old.doc(origin.path)
        assert doc is not None
        offset = doc.source.offset(origin.position)
        origin_json = {"path": origin.path, "line": origin.position.line,
                       "col": origin.position.col, "qualname": origin.qualname}
        new_doc = self.new.doc(origin.path)
        if new_doc is not None and new_doc.text == doc.text:
            return Relocated("found", text, origin_json, origin.path, origin.position, 1.0,
                             "unchanged", ("file unchanged",))
        cands = self._candidates(parsed, origin.path, doc, offset)
        scored = sorted((self._score(c, origin.path, doc, offset) for c in cands),
                        key=lambda c: (-c.score, c.path, c.offset))
        return self._verdict(text, origin_json, scored)

    # -- candidates -----------------------------------------------------------

    def _candidates(self, parsed: Selector, path: str, doc: PyDoc,
                    offset: int) -> list[_Cand]:
        found: dict[tuple[str, int], _Cand] = {}

        def add(p: str, off: int, source: str) -> None:
            found.setdefault((p, off), _Cand(p, off)).sources.add(source)

        new_doc = self.new.doc(path)
        token = _token(doc, offset)
        if new_doc is not None:
            at = doc.source.position(offset)
            mapped, edited = self._map_line(path, doc, new_doc, at.line)
            if mapped is not None:
                line_text = new_doc.source.lines[mapped - 1]
                col: int | None = at.col
                if edited:  # the line was edited: the token there, same column or unique
                    cols = [i + 1 for i in anchors.exact_offsets(line_text, token)] \
                        if token.strip() else []
                    col = at.col if at.col in cols else cols[0] if len(cols) == 1 else None
                if col is not None and col <= len(line_text) + 1:
                    add(path, new_doc.source.offset(Position(mapped, col)),
                        "diff-edited" if edited else "diff")
        # A bare position resolved anew is the naive keep-line:col baseline: a candidate,
        # never a corroboration (the stale spot would outscore the true one).
        plain = parsed.line is not None
        for c in _resolve_quietly(self.new, parsed):
            cdoc = self.new.doc(c.path)
            if cdoc is not None:
                add(c.path, cdoc.source.offset(c.position), "position" if plain else
                    "selector" if c.confidence >= self.threshold else "selector-weak")
        if token:
            if new_doc is not None:
                for off in anchors.exact_offsets(new_doc.text, token)[:self.top_k * 4]:
                    add(path, off, "anchor")
            if new_doc is None or not any(p == path and "anchor" in c.sources
                                          for (p, _), c in found.items()):
                for other in self.new.files():
                    odoc = self.new.doc(other) if other != path else None
                    if odoc is not None and token in odoc.text:
                        for off in anchors.exact_offsets(odoc.text, token)[:self.top_k]:
                            add(other, off, "anchor-moved")
        d = _definition_named_at(doc, offset)
        if d is not None:
            for other in [path, *(f for f in self.new.files() if f != path)]:
                odoc = self.new.doc(other)
                if odoc is None:
                    continue
                for nd in odoc.definitions:
                    if nd.qualname == d.qualname and nd.kind == d.kind:
                        add(other, odoc.start(nd.name_node), "symbol")
                if any("symbol" in c.sources for c in found.values()):
                    break
        if not found and new_doc is not None and token.strip():
            line = doc.source.lines[doc.source.position(offset).line - 1]
            lead = doc.source.position(offset).col - 1 - (len(line) - len(line.lstrip()))
            for m in anchors.find(new_doc.text, line.strip())[:self.top_k]:
                add(path, m.offset + max(lead, 0), "fuzzy")
        cands = list(found.values())
        self.stats["scored"] += 1
        if len(cands) > self.top_k:  # cheap pre-ranking: strong sources, then nearest
            self.stats["truncated"] += 1
            rank = {"diff": 0, "diff-edited": 0, "selector": 1, "symbol": 2, "anchor": 3}
            cands.sort(key=lambda c: (min(rank.get(s, 9) for s in c.sources),
                                      abs(c.offset - offset)))
            cands = cands[:self.top_k]
        return cands

    def _map_line(self, path: str, doc: PyDoc, new_doc: PyDoc,
                  line: int) -> tuple[int | None, bool]:
        """Where the line diff puts old ``line``: (new line, edited?), or (None, False).

        An unchanged line maps exactly. A line in a small replaced block (at most
        ``EDITED_BLOCK`` lines a side) whose text is nowhere in the new file maps to the
        block's most similar new line when that one is similar (``EDITED_SIMILARITY``)
        and clearly more so than the next (``EDITED_MARGIN``): it was edited in place.
        Large blocks and lines still present elsewhere are moves the line diff misaligned.
        """
        if path not in self._line_maps:
            old_lines, new_lines = doc.source.lines, new_doc.source.lines
            matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
            mapping: dict[int, tuple[int, bool]] = {}
            kept = {line.strip() for line in new_lines}
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "equal":
                    for k in range(i2 - i1):
                        mapping[i1 + k + 1] = (j1 + k + 1, False)
                elif tag == "replace" and max(i2 - i1, j2 - j1) <= EDITED_BLOCK:
                    for i in range(i1, i2):
                        if old_lines[i].strip() in kept:  # still there: moved, not edited
                            continue
                        best = _most_similar(old_lines[i], new_lines[j1:j2])
                        if best is not None:
                            mapping[i + 1] = (j1 + best + 1, True)
            self._line_maps[path] = mapping
        return self._line_maps[path].get(line, (None, False))

    # -- scoring --------------------------------------------------------------

    def _score(self, cand: _Cand, path: str, doc: PyDoc, offset: int) -> _Cand:
        ndoc = self.new.doc(cand.path)
        assert ndoc is not None
        old_before = doc.text[max(0, offset - WINDOW):offset]
        old_after = doc.text[offset:offset + WINDOW]
        new_before = ndoc.text[max(0, cand.offset - WINDOW):cand.offset]
        new_after = ndoc.text[cand.offset:cand.offset + WINDOW]
        # Similarity alone forgives shifts (the same token twice on a line scores
        # high); the aligned part counts only text that agrees *at* the position.
        similar = (_similar(old_before, new_before) + _similar(old_after, new_after)) / 2
        aligned = (_common_suffix(old_before, new_before) / max(len(old_before), 1)
                   + _common_prefix(old_after, new_after) / max(len(old_after), 1)) / 2
        context = (similar + aligned) / 2
        token = _token(doc, offset)
        scope = self._scope(doc, offset, cand.path, ndoc, cand.offset)
        old_line = doc.source.position(offset).line
        new_line = ndoc.source.position(cand.offset).line
        evidence = {
            "context": context,
            "token": 1.0 if token and ndoc.text.startswith(token, cand.offset) else 0.0,
            "scope": scope,
            "near": max(0.0, 1 - abs(new_line - old_line) / 200) if cand.path == path else 0,
        }
        score = sum(WEIGHTS[k] * v for k, v in evidence.items())
        for source in ("diff", "diff-edited", "symbol", "selector"):
            if source in cand.sources:
                evidence[source] = 1.0
                score += (1 - score) * CORROBORATION
        cand.evidence = evidence
        cand.score = score
        return cand

    def _scope(self, doc: PyDoc, offset: int, path: str, ndoc: PyDoc, noffset: int) -> float:
        """Is the candidate in the same definition? By name, else by its text (renames)."""
        old, new = doc.enclosing(offset), ndoc.enclosing(noffset)
        if old is None or new is None:
            return 1.0 if old is None and new is None else 0.0
        if old.qualname == new.qualname:
            return 1.0
        if old.qualname[-1] == new.qualname[-1]:
            return 0.5
        key = (doc.start(old.node), path, ndoc.start(new.node))
        if key not in self._scopes:
            a = doc.node_text(old.node).splitlines()
            b = ndoc.node_text(new.node).splitlines()
            matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
            sim = matcher.ratio() if matcher.real_quick_ratio() >= 0.6 else 0.0
            self._scopes[key] = 0.8 * sim if sim >= 0.6 else 0.25
        return self._scopes[key]

    def _verdict(self, text: str, origin: dict[str, Any], scored: list[_Cand]) -> Relocated:
        listed = tuple(self._cand_json(c) for c in scored[:10])
        if not scored:
            return Relocated("lost", text, origin, reasons=("no candidate in the new snapshot",))
        best = scored[0]
        runner = scored[1].score if len(scored) > 1 else 0.0
        # The best's share of the odds against the runner-up: near-equal scores mean
        # we do not know which; a clear lead keeps the best score.
        odds = _odds(best.score)
        share = odds / (odds + _odds(runner)) if runner > 0 else 1.0
        confidence = min(best.score, share)
        reasons = [f"{k} {v:.2f}" for k, v in sorted(best.evidence.items())]
        if share < best.score:
            reasons.append(f"runner-up close (score {runner:.3f})")
        confidence = round(min(confidence, 1.0), 3)
        ndoc = self.new.doc(best.path)
        assert ndoc is not None
        pos = ndoc.source.position(best.offset)
        method = "+".join(sorted(best.sources))
        status = "found" if confidence >= self.threshold else "lost"
        return Relocated(status, text, origin, best.path, pos, confidence, method,
                         tuple(reasons), listed)

    def _cand_json(self, c: _Cand) -> dict[str, Any]:
        ndoc = self.new.doc(c.path)
        assert ndoc is not None
        pos = ndoc.source.position(c.offset)
        return {"path": c.path, "line": pos.line, "col": pos.col, "score": round(c.score, 3),
                "method": "+".join(sorted(c.sources))}


def _resolve_quietly(snapshot: Snapshot, parsed: Selector) -> list[Any]:
    """The selector's candidates in ``snapshot``; none where its file is gone or its
    position is past the end of the file now (evidence missing, not an error)."""
    if parsed.path is not None and not snapshot.exists(snapshot.normalize(parsed.path)):
        return []
    try:
        return resolve(snapshot, parsed)
    except LanserError:
        return []


def _most_similar(line: str, block: list[str]) -> int | None:
    """The index of ``block``'s line most similar to ``line``, when it clearly is."""
    key = line.strip()
    if not key:
        return None
    ratios = sorted(((difflib.SequenceMatcher(None, key, b.strip(), autojunk=False).ratio(), j)
                     for j, b in enumerate(block)), reverse=True)
    if not ratios or ratios[0][0] < EDITED_SIMILARITY:
        return None
    if len(ratios) > 1 and ratios[0][0] - ratios[1][0] < EDITED_MARGIN:
        return None
    return ratios[0][1]


def _token(doc: PyDoc, offset: int) -> str:
    """The text from ``offset`` to the end of its token (at most one line, 40 chars)."""
    node = doc.node_at(offset)
    end = doc.end(node) if node is not None and node.child_count == 0 else offset
    text = doc.text[offset:max(end, offset + 1)]
    return text.split("\n", 1)[0].split("\r", 1)[0][:40]


def _definition_named_at(doc: PyDoc, offset: int) -> Any:
    for d in doc.definitions:
        if doc.start(d.name_node) == offset:
            return d
    return None


def _odds(score: float) -> float:
    score = min(score, 0.999)
    return score / (1 - score)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: str, b: str) -> int:
    return _common_prefix(a[::-1], b[::-1])


def _similar(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def relocate(old: Snapshot, new: Snapshot, text: str, *,
             threshold: float = THRESHOLD) -> Relocated:
    """Relocate one selector from ``old`` to ``new`` (see the module docstring)."""
    return Relocator(old, new, threshold=threshold).relocate(text)
