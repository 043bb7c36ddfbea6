"""Resolution: a parsed selector and a snapshot in, scored candidate locations out.

Every candidate carries a disambiguation confidence in [0, 1] and the reasons that
lowered it. The rules (SPEC.md, "Resolution"): an exact, unique match is 1; ``n``
equally good matches are 1/n each; a fallback or fuzzy match multiplies in its own
factor; the facets of a composite selector multiply. Nothing here raises for "not
found" or "ambiguous": that is the caller's decision (:func:`resolve_target` applies
the threshold), so relocation and ``selector resolve`` can show every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanser.errors import BadSelector
from lanser.positions import Position
from lanser.selectors import anchors
from lanser.selectors.pytree import Definition, PyDoc, match_steps, node_name
from lanser.selectors.snapshot import Snapshot
from lanser.selectors.syntax import Parsed, Range, Selector, Symbol

#: Confidence factor of a symbol found by its trailing name(s) only.
SUFFIX_FALLBACK = 0.6


@dataclass(frozen=True)
class Candidate:
    """One place a selector may mean."""

    path: str
    position: Position
    confidence: float
    method: str
    reasons: tuple[str, ...] = ()
    end: Position | None = None
    qualname: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "line": self.position.line,
                               "col": self.position.col, "confidence": self.confidence,
                               "method": self.method, "reasons": list(self.reasons)}
        if self.end is not None:
            out["end_line"], out["end_col"] = self.end.line, self.end.col
        if self.qualname:
            out["qualname"] = self.qualname
        return out


def sort_key(c: Candidate) -> tuple[Any, ...]:
    """Best first: confidence descending, then path, line, column (documented order)."""
    return (-c.confidence, c.path, c.position.line, c.position.col)


def confident(candidates: list[Candidate] | tuple[Candidate, ...], threshold: float) -> bool:
    """The one acting rule (SPEC.md 3.7): the best candidate (``candidates`` sorted best
    first) reaches ``threshold`` and no other one does. Queries, ``selector resolve``,
    capture and the benchmark all decide with this."""
    return bool(candidates) and candidates[0].confidence >= threshold and not (
        len(candidates) > 1 and candidates[1].confidence >= threshold)


def resolve(snapshot: Snapshot, parsed: Parsed) -> list[Candidate]:
    """Every candidate location of ``parsed`` in ``snapshot``, best first."""
    if isinstance(parsed, Range):
        return _resolve_range(snapshot, parsed)
    found: list[Candidate] = []
    for rel, scope_conf, scope_reasons in _scope_files(snapshot, parsed):
        doc = snapshot.doc(rel)
        if doc is None:
            continue
        for cand in _resolve_in(doc, rel, parsed):
            found.append(Candidate(
                cand.path, cand.position, round(cand.confidence * scope_conf, 3), cand.method,
                (*scope_reasons, *cand.reasons), cand.end, cand.qualname, cand.extra))
    return sorted(found, key=sort_key)


def _resolve_range(snapshot: Snapshot, rng: Range) -> list[Candidate]:
    starts = resolve(snapshot, rng.start)
    ends = resolve(snapshot, rng.end)
    out = []
    for s in starts[:10]:
        for e in ends[:10]:
            if e.path != s.path or e.position < s.position:
                continue
            out.append(Candidate(s.path, s.position, round(s.confidence * e.confidence, 3),
                                 f"range({s.method}..{e.method})", (*s.reasons, *e.reasons),
                                 end=e.position, qualname=s.qualname))
    return sorted(out, key=sort_key)


# -- scope ------------------------------------------------------------------------------

def module_files(snapshot: Snapshot, module: str) -> list[str]:
    """Files that may hold ``module``: ``pkg/mod.py``, ``pkg/mod/__init__.py``, under any
    source root (``src/pkg/mod.py``); a ``.pyi`` stub only where no ``.py`` exists."""
    base = module.replace(".", "/")
    tails = (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi")
    found = [f for f in snapshot.files() if any(f == t or f.endswith("/" + t) for t in tails)]
    stems = {f.rsplit(".", 1)[0] for f in found if f.endswith(".py")}
    return sorted(f for f in found if f.endswith(".py") or f.rsplit(".", 1)[0] not in stems)


def _scope_files(snapshot: Snapshot, sel: Selector) -> list[tuple[str, float, tuple[str, ...]]]:
    if sel.path is not None:
        return [(snapshot.require(sel.path), 1.0, ())]
    assert sel.module is not None
    files = module_files(snapshot, sel.module)
    if len(files) <= 1:
        return [(f, 1.0, ()) for f in files]
    why = (f"module {sel.module} matches {len(files)} files",)
    return [(f, round(1 / len(files), 3), why) for f in files]


# -- one file ----------------------------------------------------------------------------

def _resolve_in(doc: PyDoc, rel: str, sel: Selector) -> list[Candidate]:
    if sel.line is not None:
        return [_position(doc, rel, sel)]
    # Each region: (node or None for the whole file, confidence, methods, reasons, qualname)
    regions: list[tuple[Any, float, list[str], tuple[str, ...], str | None]] = [
        (None, 1.0, [], (), None)]
    if sel.symbol is not None:
        regions = []
        for d, conf, why in find_symbol(doc, sel.symbol):
            regions.append((d, conf, ["symbolic"], why, d.dotted))
    if sel.ast is not None:
        nxt = []
        for region, conf, methods, why, qual in regions:
            roots = [region.node if isinstance(region, Definition) else doc.root]
            if isinstance(region, Definition) and sel.ast[0].type in (
                    "function_definition", "class_definition") and \
                    node_name(doc, region.node) == sel.ast[0].name:
                roots = [region.node.parent]  # a path that restates the symbol
            hits = match_steps(doc, roots, sel.ast)
            for node in hits:
                factor = 1.0 / len(hits)
                more = (f"ambiguous: AST path matches {len(hits)} nodes; add [INDEX]",) \
                    if len(hits) > 1 else ()
                nxt.append((node, round(conf * factor, 3), [*methods, "ast"], (*why, *more),
                            qual))
        regions = nxt
    out: list[Candidate] = []
    for region, conf, methods, why, qual in regions:
        if sel.anchor is not None:
            node = region.node if isinstance(region, Definition) else region
            out.extend(_anchor(doc, rel, sel, node, conf, methods, why, qual))
        elif isinstance(region, Definition):
            out.append(_definition(doc, rel, region, sel.symbol, conf, methods, why))
        elif region is not None:
            name = region.child_by_field_name("name") if region.type in (
                "function_definition", "class_definition") else None
            at = name if name is not None else region
            out.append(Candidate(rel, doc.position(at), conf, "+".join(methods), why,
                                 end=doc.source.position(doc.end(region)),
                                 qualname=_qualname_at(doc, doc.start(at), qual)))
    return out


def _position(doc: PyDoc, rel: str, sel: Selector) -> Candidate:
    assert sel.line is not None
    if sel.col is None:
        text = doc.source.line_text(sel.line)
        pos = Position(sel.line, len(text) - len(text.lstrip()) + 1)
    else:
        pos = doc.source.check(Position(sel.line, sel.col))
    encl = doc.enclosing(doc.source.offset(pos))
    return Candidate(rel, pos, 1.0, "position", (), qualname=encl.dotted if encl else None)


def find_symbol(doc: PyDoc, sym: Symbol) -> list[tuple[Definition, float, tuple[str, ...]]]:
    """Definitions named ``sym.qualname`` (kind-filtered, indexed), with confidences.

    Exact qualified names first; failing those, definitions whose qualified name ends
    with the given one (``get`` for ``Cache.get``), at a reduced confidence.
    """
    pool = [d for d in doc.definitions if sym.kind is None or d.kind == sym.kind]
    exact = [d for d in pool if d.qualname == sym.qualname]
    factor, reasons = 1.0, ()
    if not exact:
        n = len(sym.qualname)
        exact = [d for d in pool if d.qualname[-n:] == sym.qualname]
        factor, reasons = SUFFIX_FALLBACK, (
            f"fallback: no {'.'.join(sym.qualname)} at top level; matched by trailing name",)
    if sym.index is not None:
        return [(exact[sym.index], factor, reasons)] if sym.index < len(exact) else []
    if len(exact) > 1:
        why = (*reasons, f"ambiguous: {len(exact)} definitions of {'.'.join(sym.qualname)}; "
                         "add [index=N] or [kind=...]")
        return [(d, round(factor / len(exact), 3), why) for d in exact]
    return [(d, factor, reasons) for d in exact]


def _definition(doc: PyDoc, rel: str, d: Definition, sym: Symbol | None, conf: float,
                methods: list[str], why: tuple[str, ...]) -> Candidate:
    """Where a role of a definition is: its name, ``def``, signature, body or docstring."""
    role = sym.role if sym is not None else "name"
    node, end_node = d.name_node, d.node
    if role == "def":
        node = d.node
    elif role in ("sig", "body", "doc") and d.kind != "variable":
        params = d.node.child_by_field_name("parameters") or \
            d.node.child_by_field_name("superclasses")
        body = d.node.child_by_field_name("body")
        if role == "sig":
            node = params if params is not None else d.name_node
        elif body is not None and body.named_children:
            first = body.named_children[0]
            node = end_node = body
            if role == "body":
                node = first
            elif first.type == "expression_statement" and first.named_children and \
                    first.named_children[0].type == "string":
                node = end_node = first.named_children[0]
            else:
                return Candidate(rel, doc.position(d.name_node), round(conf * 0.5, 3),
                                 "+".join(methods), (*why, "no docstring: fell back to the name"),
                                 qualname=d.dotted)
    elif role != "name":
        why = (*why, f"role {role} does not apply to a {d.kind}; used the name")
        conf *= 0.5
    return Candidate(rel, doc.position(node), round(conf, 3), "+".join(methods), why,
                     end=doc.source.position(doc.end(end_node)), qualname=d.dotted)


def _anchor(doc: PyDoc, rel: str, sel: Selector, node: Any, conf: float, methods: list[str],
            why: tuple[str, ...], qual: str | None) -> list[Candidate]:
    a = sel.anchor
    assert a is not None
    lo, hi = (doc.start(node), doc.end(node)) if node is not None else (0, len(doc.text))
    out = []
    for m in anchors.find(doc.text, a.snippet, before=a.before, after=a.after,
                          occurrence=a.occurrence, lo=lo, hi=hi):
        at = m.offset + a.offset
        if not 0 <= at <= len(doc.text):
            continue
        pos = doc.source.position(at)
        reasons = (*why, *m.reasons)
        factor = m.confidence
        if a.hash and anchors.line_hash(doc.source.lines[pos.line - 1]) != a.hash:
            reasons = (*reasons, "line content hash differs from the captured one")
            factor *= 0.9
        out.append(Candidate(
            rel, pos, round(conf * factor, 3), "+".join([*methods, m.method]), reasons,
            end=doc.source.position(min(m.end, len(doc.text))),
            qualname=_qualname_at(doc, at, qual)))
    return out


def _qualname_at(doc: PyDoc, offset: int, outer: str | None) -> str | None:
    """The innermost definition around where a candidate lands (its name included), else
    the facet's own (a variable's): ``::Stock//function_definition[name=add]`` is
    ``Stock.add``, not ``Stock``."""
    encl = doc.enclosing(offset)
    return encl.dotted if encl is not None else outer


def parse_and_resolve(snapshot: Snapshot, text: str) -> tuple[Parsed, list[Candidate]]:
    """Parse then resolve; a position outside its file is a bad selector too."""
    from lanser.selectors.parser import parse_selector

    parsed = parse_selector(text)
    if isinstance(parsed, Selector) and parsed.path is None and parsed.module is None:
        raise BadSelector(f"selector {text!r} names no file or module", selector=text)
    return parsed, resolve(snapshot, parsed)
