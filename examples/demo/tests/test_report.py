from inventory.report import low_items, summary
from inventory.stock import Stock


def test_low_items():
    stock = Stock()
    stock.add("apple", 1)
    stock.add("pear", 9)
    assert low_items(stock, 2) == ["apple"]


def test_summary():
    stock = Stock()
    stock.add("apple", 2)
    assert summary(stock) == "items on hand: 2"
