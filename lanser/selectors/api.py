"""The selector operations as library calls (what ``lanser selector ...`` runs).

Each takes a :class:`~lanser.workspace.Workspace` and plain values and returns a record
with ``to_json``; failures are lanser errors. The CLI only parses options and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanser.errors import NotFound
from lanser.workspace import Workspace


@dataclass(frozen=True)
class Resolution:
    """Every candidate of a selector, and the one chosen if it is confident."""

    selector: str
    kind: str
    threshold: float
    candidates: tuple[Any, ...]

    @property
    def confident(self) -> bool:
        from lanser.selectors.resolver import confident

        return confident(self.candidates, self.threshold)

    def to_json(self) -> dict[str, Any]:
        return {"selector": self.selector, "kind": self.kind, "threshold": self.threshold,
                "resolved": self.confident,
                "candidates": [c.to_json() for c in self.candidates]}


def parse(text: str) -> dict[str, Any]:
    """The parsed form and the canonical spelling of ``text``."""
    from lanser.selectors.parser import parse_selector
    from lanser.selectors.syntax import format_selector

    parsed = parse_selector(text)
    return {"selector": text, "canonical": format_selector(parsed), "parsed": parsed.to_json()}


def resolve_all(workspace: Workspace, text: str, *, rev: str | None = None,
                threshold: float | None = None) -> Resolution:
    """Every candidate of ``text`` in the working tree (or at ``rev``), best first."""
    from lanser.selectors.resolver import parse_and_resolve
    from lanser.selectors.snapshot import open_snapshot

    threshold = workspace.config.confidence_threshold if threshold is None else threshold
    parsed, found = parse_and_resolve(open_snapshot(workspace, rev), text)
    return Resolution(text, parsed.kind, threshold, tuple(found))


def require_confident(res: Resolution) -> None:
    """Raise NotFound/Ambiguous (exit 4) with the candidates when ``res`` is not confident."""
    from lanser.selectors.target import refusal

    if not res.confident:
        raise refusal(res.selector, res.candidates, res.threshold)


def capture_at(workspace: Workspace, loc: str, *, rev: str | None = None) -> Any:
    """Capture the location ``loc`` (``path:line:col`` or any confident selector)."""
    from lanser.selectors.capture import capture
    from lanser.selectors.snapshot import open_snapshot

    res = resolve_all(workspace, loc, rev=rev)
    require_confident(res)
    best = res.candidates[0]
    return capture(open_snapshot(workspace, rev), best.path, best.position)


def relocate(workspace: Workspace, text: str, *, rev_from: str, rev_to: str | None = None,
             threshold: float | None = None) -> Any:
    """Relocate ``text`` from ``rev_from`` to ``rev_to`` (default: the working tree).

    Returns the :class:`~lanser.selectors.relocation.Relocated` record when found;
    raises :class:`NotFound` (code ``lost``, exit 4) with the evidence when not.
    """
    from lanser.selectors.parser import parse_selector
    from lanser.selectors.relocation import Relocator
    from lanser.selectors.snapshot import open_snapshot

    parsed = parse_selector(text)
    threshold = workspace.config.confidence_threshold if threshold is None else threshold
    old = open_snapshot(workspace, rev_from)
    new = open_snapshot(workspace, rev_to)
    result = Relocator(old, new, threshold=threshold).relocate(text, parsed)
    if result.status != "found":
        where = (f"; best guess {result.path}:{result.position} at confidence "
                 f"{result.confidence}" if result.position else "")
        raise NotFound(f"selector {text!r} is lost in {new.label}{where}", code="lost",
                       **result.to_json())
    return result
