from app import low_stock
from inventory import count_items
from report import stock_line

STOCK = {"apples": 5, "pears": 1}


def test_count_items():
    assert count_items(STOCK, "apples") == 5
    assert count_items(STOCK, "plums") == 0


def test_stock_line():
    assert stock_line(STOCK, "pears") == "pears: 1"


def test_low_stock():
    assert low_stock(STOCK, ["apples", "pears", "plums"]) == ["pears", "plums"]
