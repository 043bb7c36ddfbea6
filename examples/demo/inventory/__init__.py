"""A tiny inventory package: lanser's demo workspace."""

from inventory.stock import Stock

__all__ = ["Stock"]
