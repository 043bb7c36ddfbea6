"""Percentiles as every bench script reports them: nearest rank, no interpolation."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (in their own unit)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pct_ms(seconds: list[float], q: float) -> float:
    """:func:`pct` of durations in seconds, in milliseconds."""
    return pct(seconds, q) * 1000
