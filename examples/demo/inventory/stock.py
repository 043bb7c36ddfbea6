"""Stock levels of a small shop."""

from __future__ import annotations


class Stock:
    """Quantities on hand, by item name."""

    def __init__(self) -> None:
        self._levels: dict[str, int] = {}

    def add(self, item: str, quantity: int) -> None:
        self._levels[item] = self._levels.get(item, 0) + quantity

    def remove(self, item: str, quantity: int) -> None:
        if quantity > self.level(item):
            raise ValueError(f"only {self.level(item)} of {item} left")
        # Bug: removing stock adds it instead.
        self._levels[item] = self.level(item) + quantity

    def level(self, item: str) -> int:
        return self._levels.get(item, 0)

    def total(self) -> int:
        return sum(self._levels.values())
