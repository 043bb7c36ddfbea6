"""Resolve the LOC argument of a query command to one confident file position.

A LOC is any selector (SPEC.md): ``path:line:col`` and ``path:line`` (1-based, code
points; with ``path:line`` the column is the line's first non-blank character),
symbolic, AST-path, anchored, composite or a range (the query acts at its start).
Below the confidence threshold the query refuses and lists the candidates instead of
guessing (:class:`~lanser.errors.Ambiguous` or :class:`~lanser.errors.NotFound`, exit 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.errors import Ambiguous, LanserError, NotFound
from lanser.positions import Position
from lanser.workspace import Workspace

#: How many candidates an error lists at most.
MAX_LISTED = 20


@dataclass(frozen=True)
class Target:
    """Where a query acts, how it was found, and how sure we are."""

    path: Path
    position: Position
    selector: str
    method: str = "position"
    confidence: float = 1.0
    reasons: tuple[str, ...] = ()
    candidates: tuple[dict[str, Any], ...] = field(default=())
    end: Position | None = None

    def to_json(self, workspace: Workspace) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": workspace.relative(self.path),
            "line": self.position.line,
            "col": self.position.col,
            "selector": self.selector,
            "method": self.method,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
        }
        if self.end is not None:
            out["end_line"], out["end_col"] = self.end.line, self.end.col
        return out


def refusal(text: str, found: list[Any] | tuple[Any, ...], threshold: float) -> LanserError:
    """The exit-4 error for a selector whose candidates are not confident: ``not_found``
    (none), ``ambiguous`` (several), ``low_confidence`` (one, weak); candidates listed."""
    listed = [c.to_json() for c in found[:MAX_LISTED]]
    if not found:
        return NotFound(f"selector {text!r} matches nothing", selector=text, candidates=[])
    best = found[0]
    if len(found) > 1:
        return Ambiguous(
            f"selector {text!r} is ambiguous: {len(found)} candidates, the best at "
            f"confidence {best.confidence} (threshold {threshold})",
            selector=text, threshold=threshold, candidates=listed)
    return NotFound(
        f"selector {text!r} matched only weakly: {best.path}:{best.position} at "
        f"confidence {best.confidence} (threshold {threshold}; "
        f"{'; '.join(best.reasons) or best.method})",
        code="low_confidence", selector=text, threshold=threshold, candidates=listed)


def resolve_target(workspace: Workspace, text: str, *, threshold: float | None = None) -> Target:
    """The one location ``text`` means in the working tree, or a NotResolved error.

    ``threshold`` defaults to the workspace's ``confidence_threshold`` (0.8).
    """
    from lanser.selectors.resolver import confident, parse_and_resolve
    from lanser.selectors.snapshot import WorkingTree

    if threshold is None:
        threshold = workspace.config.confidence_threshold
    _, found = parse_and_resolve(WorkingTree(workspace), text)
    if not confident(found, threshold):
        raise refusal(text, found, threshold)
    best = found[0]
    return Target(
        path=workspace.root / best.path, position=best.position, selector=text,
        method=best.method, confidence=best.confidence, reasons=best.reasons,
        candidates=tuple(c.to_json() for c in found[:MAX_LISTED]), end=best.end)
