"""The parsed form of a selector: plain frozen records, and their canonical text.

The parser (:mod:`lanser.selectors.parser`) builds these; the resolver reads them.
Every form of the language, the paper's spellings included, parses into the same
records, so the resolver knows one shape. :meth:`Selector.to_json` is the "parsed
form" the conformance vectors in ``selectors/conformance/`` compare against, and
:func:`format_selector` writes the canonical native spelling back (parse of the
canonical text gives the same record: the round trip the tests check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Roles of a symbolic selector: which part of a definition it addresses.
ROLES = ("name", "def", "sig", "body", "doc")
#: Kind filters of a symbolic selector.
KINDS = ("class", "function", "method", "variable")


@dataclass(frozen=True)
class Symbol:
    """A qualified name (``Class.method``) with its optional filters."""

    qualname: tuple[str, ...]
    kind: str | None = None
    index: int | None = None
    role: str = "name"

    def to_json(self) -> dict[str, Any]:
        return {"qualname": ".".join(self.qualname), "kind": self.kind,
                "index": self.index, "role": self.role}


@dataclass(frozen=True)
class Step:
    """One step of an AST path: a tree-sitter node type, a name filter, an index."""

    type: str
    name: str | None = None
    index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "index": self.index}


@dataclass(frozen=True)
class Anchor:
    """A snippet of source text, with the context that disambiguates it."""

    snippet: str
    before: str = ""
    after: str = ""
    occurrence: int | None = None
    offset: int = 0
    hash: str | None = None
    ctx: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"snippet": self.snippet, "before": self.before, "after": self.after,
                "occurrence": self.occurrence, "offset": self.offset, "hash": self.hash,
                "ctx": self.ctx}


@dataclass(frozen=True)
class Selector:
    """One location: a scope (file or module) and what to find in it.

    Either ``line`` is set (a position) or at least one of ``symbol``, ``ast`` and
    ``anchor`` (facets, applied in that order, each inside the previous one's match).
    """

    path: str | None = None
    module: str | None = None
    line: int | None = None
    col: int | None = None
    symbol: Symbol | None = None
    ast: tuple[Step, ...] | None = None
    anchor: Anchor | None = None

    @property
    def kind(self) -> str:
        if self.line is not None:
            return "position"
        facets = [name for name, value in
                  (("symbolic", self.symbol), ("ast", self.ast), ("anchor", self.anchor))
                  if value is not None]
        return facets[0] if len(facets) == 1 else "composite"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "path": self.path, "module": self.module,
            "line": self.line, "col": self.col,
            "symbol": self.symbol.to_json() if self.symbol else None,
            "ast": [s.to_json() for s in self.ast] if self.ast is not None else None,
            "anchor": self.anchor.to_json() if self.anchor else None,
        }


@dataclass(frozen=True)
class Range:
    """From ``start`` (inclusive) to ``end`` (exclusive), both in one file."""

    start: Selector
    end: Selector

    kind = "range"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "range", "start": self.start.to_json(), "end": self.end.to_json()}


Parsed = Selector | Range

# -- canonical text -----------------------------------------------------------------

_BARE = re.compile(r"[\w.:+\-/]+")
_PATH_UNSAFE = set('%:@"#?[]|, \t\r\n\\')


def quote_path(path: str) -> str:
    """Percent-encode the characters a path may not hold raw."""
    out = []
    for ch in path:
        if ch in _PATH_UNSAFE or ord(ch) < 0x20 or ch == "\x7f":
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out).replace("//", "/%2F")


def quote_string(text: str) -> str:
    """A double-quoted string with backslash escapes (``\\"`` ``\\\\`` ``\\n`` ``\\t``...)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(text: str) -> str:
    """A bare word when the parser reads it back unchanged, else a quoted string."""
    return text if _BARE.fullmatch(text) else quote_string(text)


def _opts(items: list[str]) -> str:
    return f"[{','.join(items)}]" if items else ""


def format_selector(sel: Parsed) -> str:
    """The canonical native spelling of a parsed selector."""
    if isinstance(sel, Range):
        return f"{format_selector(sel.start)}..{format_selector(sel.end)}"
    scope = quote_path(sel.path) if sel.path is not None else (sel.module or "")
    if sel.line is not None:
        return f"{scope}:{sel.line}" + (f":{sel.col}" if sel.col is not None else "")
    if sel.module is not None and sel.symbol is None and sel.ast is not None \
            and sel.anchor is None:
        # Only the paper's form can spell a module-scoped AST path (SPEC.md 1).
        steps = []
        for step in sel.ast:
            head = step.type + (f"={_value(step.name)}" if step.name is not None else "")
            steps.append(f"[{head}" + (f",index={step.index}]" if step.index is not None
                                       else "]"))
        return f"ast://[module={sel.module}]/" + "/".join(steps)
    text = scope
    if sel.symbol is not None:
        sym = sel.symbol
        opts = []
        if sym.kind:
            opts.append(f"kind={sym.kind}")
        if sym.index is not None:
            opts.append(f"index={sym.index}")
        if sym.role != "name":
            opts.append(f"role={sym.role}")
        text += "::" + ".".join(sym.qualname) + _opts(opts)
    if sel.ast is not None:
        steps = []
        for step in sel.ast:
            opts = [f"name={_value(step.name)}"] if step.name is not None else []
            if step.index is not None:
                opts.append(str(step.index))
            steps.append(step.type + _opts(opts))
        text += "//" + "/".join(steps)
    if sel.anchor is not None:
        a = sel.anchor
        opts = []
        if a.before:
            opts.append(f"before={quote_string(a.before)}")
        if a.after:
            opts.append(f"after={quote_string(a.after)}")
        if a.occurrence is not None:
            opts.append(f"n={a.occurrence}")
        if a.offset:
            opts.append(f"off={a.offset}")
        if a.ctx is not None:
            opts.append(f"ctx={a.ctx}")
        if a.hash:
            opts.append(f"hash={a.hash}")
        text += "@" + quote_string(a.snippet) + _opts(opts)
    return text
