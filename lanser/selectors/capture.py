"""Capture: a raw position in, one robust composite selector string out.

The composite stacks three independent kinds of evidence so relocation has something
left when one of them breaks: the enclosing definition's qualified name (survives
moved lines), an AST path from it (survives edits elsewhere in the body) and an
anchor (the text at the position, with context before and after and the line's content
hash: survives renames of the enclosing names). Resolving the captured string on the
snapshot it was captured on gives back exactly the position, at confidence 1: capture
checks that before it answers, and falls back to fewer facets when it does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lanser.positions import Position
from lanser.selectors import anchors
from lanser.selectors.pytree import PyDoc, ast_path
from lanser.selectors.resolver import resolve
from lanser.selectors.snapshot import Snapshot
from lanser.selectors.syntax import Anchor, Selector, Step, Symbol, format_selector

#: Code points of context recorded before and after the snippet.
CONTEXT = 24
#: Longest snippet recorded.
MAX_SNIPPET = 40


@dataclass(frozen=True)
class Capture:
    """The captured selector and its parts (each usable on its own)."""

    selector: str
    path: str
    position: Position
    parts: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"selector": self.selector, "path": self.path, "line": self.position.line,
                "col": self.position.col, "parts": dict(sorted(self.parts.items()))}


def capture(snapshot: Snapshot, rel: str, position: Position, *,
            context: int = CONTEXT) -> Capture:
    """The composite selector for ``position`` in file ``rel`` of ``snapshot``."""
    doc = snapshot.doc(rel)
    if doc is None:
        from lanser.errors import MissingFile

        raise MissingFile(f"{rel}: no such file in {snapshot.label}", path=rel)
    offset = doc.source.offset(position)
    anchor = _anchor(doc, offset, context)
    start = offset - anchor.offset
    end = start + len(anchor.snippet)
    encl = doc.enclosing(start)
    symbol = None
    if encl is not None:
        same = [d for d in doc.definitions if d.qualname == encl.qualname]
        symbol = Symbol(encl.qualname, index=same.index(encl) if len(same) > 1 else None)
    node = doc.root.descendant_for_byte_range(doc.byte(start), doc.byte(end))
    while node is not None and not node.is_named:  # "(" or "=": no node type to spell
        node = node.parent
    top = encl.node if encl is not None else doc.root
    steps = tuple(Step(t, n, i) for t, n, i in ast_path(doc, top, node)) if node else ()
    parts = {"position": f"{_q(rel)}:{position.line}:{position.col}",
             "anchor": format_selector(Selector(path=rel, anchor=anchor))}
    if symbol is not None:
        parts["symbolic"] = format_selector(Selector(path=rel, symbol=symbol))
    if steps:
        parts["ast"] = format_selector(Selector(path=rel, symbol=symbol, ast=steps))
    for facets in ((symbol, steps or None), (symbol, None), (None, None)):
        sel = Selector(path=rel, symbol=facets[0], ast=facets[1], anchor=anchor)
        if _exact(snapshot, sel, rel, position):
            return Capture(format_selector(sel), rel, position, parts)
    # Context was not enough to single the place out: number the occurrence.
    for n in range(anchors.MAX_MATCHES):
        sel = Selector(path=rel, anchor=replace(anchor, occurrence=n))
        found = resolve(snapshot, sel)
        if not found:
            break
        if found[0].position == position:
            return Capture(format_selector(sel), rel, position, parts)
    return Capture(parts["position"], rel, position, parts)


def _q(rel: str) -> str:
    from lanser.selectors.syntax import quote_path

    return quote_path(rel)


def _exact(snapshot: Snapshot, sel: Selector, rel: str, position: Position) -> bool:
    found = resolve(snapshot, sel)
    return (len(found) == 1 and found[0].confidence == 1.0 and found[0].path == rel
            and found[0].position == position)


def _anchor(doc: PyDoc, offset: int, context: int) -> Anchor:
    """Snippet = the rest of the token at ``offset`` (or the line's tail), on one line."""
    text = doc.text
    line_end = offset
    while line_end < len(text) and text[line_end] not in "\r\n":
        line_end += 1
    node = doc.node_at(offset)
    token_end = doc.end(node) if node is not None and node.child_count == 0 else offset
    stop = min(line_end, max(token_end, offset + 1), offset + MAX_SNIPPET)
    back = 0
    if stop <= offset:  # end of line or end of file: anchor on what precedes
        line_start = offset
        while line_start > 0 and text[line_start - 1] not in "\r\n":
            line_start -= 1
        back = min(offset - line_start, 16)
        if back == 0:  # an empty line: the line break itself, else what comes before
            if offset < len(text):
                stop = offset + 1
            else:
                back = min(offset, 1)
        start = offset - back
        snippet = text[start:max(stop, offset)] if back else text[offset:stop]
    else:
        start = offset
        snippet = text[offset:stop]
    if not snippet:  # an empty file: nothing to anchor on; the position is all there is
        snippet, back = "\n", 0
    end = start + len(snippet)
    line = doc.source.lines[doc.source.position(offset).line - 1]
    return Anchor(snippet, before=text[max(0, start - context):start],
                  after=text[end:end + context], offset=back, hash=anchors.line_hash(line))
