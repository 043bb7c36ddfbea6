"""Integrity findings: what grading caught a candidate doing (issue 16).

A bottom-level record (no lanser imports) so that the runner, which finds them while
it prepares a graded tree, and the reward functional, which prices them, share one
type. The JSON shape is the ``integrity`` list of every reward record
(``rewards/SPEC.md`` §12): ``[{"kind", "count", "paths"}]`` sorted by kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The kinds, and what each means (documented in rewards/SPEC.md §12).
KINDS = (
    "protected_edit",      # a protected file or config section differs from the base: restored
    "suppression_added",   # a checker suppression on a changed line: stripped (or counted)
    "outcome_missing",     # a listed test has no outcome of its own (not run, deselected, ...)
    "early_exit",          # the test process died or the session ended before a test finished
    "xfail_added",         # a listed test xfailed/xpassed although it did not at the base
    "skip_added",          # a listed test was skipped although it was not at the base
    "forged_events",       # lines on lanser's results channel that were not lanser's
    "always_equal",        # a class whose __eq__ is constantly True (passes any ==)
    "shadowed_module",     # the graded tree named a module the tests import from elsewhere
)


@dataclass(frozen=True, order=True)
class Finding:
    """One kind of tampering, how many instances, and where (sorted paths or ids)."""

    kind: str
    count: int = 0
    paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "paths": list(self.paths)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(str(data["kind"]), int(data.get("count", 0)),
                   tuple(str(p) for p in data.get("paths", ())))


def merge(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """One finding per kind (counts added, paths united), sorted by kind; empty ones out."""
    by_kind: dict[str, tuple[int, set[str]]] = {}
    for f in findings:
        count, paths = by_kind.get(f.kind, (0, set()))
        by_kind[f.kind] = (count + f.count, paths | set(f.paths))
    return tuple(Finding(k, c, tuple(sorted(p))) for k, (c, p) in sorted(by_kind.items())
                 if c > 0)


def to_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [f.to_json() for f in merge(findings)]


def from_json(data: Iterable[dict[str, Any]] | None) -> tuple[Finding, ...]:
    return merge(Finding.from_json(d) for d in (data or ()))
