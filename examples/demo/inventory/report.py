"""Reports over a Stock."""

from __future__ import annotations

from inventory.stock import Stock


def low_items(stock: Stock, threshold: int) -> list[str]:
    """Items at or below ``threshold``, sorted by name."""
    return sorted(item for item in stock._levels if stock.level(item) <= threshold)


def summary(stock: Stock) -> str:
    count: int = stock.total()
    return "items on hand: " + count
