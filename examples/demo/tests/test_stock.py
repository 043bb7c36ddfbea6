import pytest

from inventory.stock import Stock


def test_add_then_level():
    stock = Stock()
    stock.add("apple", 3)
    assert stock.level("apple") == 3


def test_remove_lowers_level():
    stock = Stock()
    stock.add("apple", 5)
    stock.remove("apple", 2)
    assert stock.level("apple") == 3
    assert stock.total() == 3


def test_remove_too_many_raises():
    stock = Stock()
    stock.add("pear", 1)
    with pytest.raises(ValueError):
        stock.remove("pear", 2)
