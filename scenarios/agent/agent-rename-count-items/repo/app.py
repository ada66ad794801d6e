"""Entry point: print the stock report for a few items."""

import inventory
from report import stock_line


def low_stock(stock: dict[str, int], names: list[str], floor: int = 2) -> list[str]:
    """The items with fewer than ``floor`` on hand."""
    return [name for name in names if inventory.get_item_count(stock, name) < floor]


def main() -> None:
    stock = {"apples": 5, "pears": 1}
    for name in ("apples", "pears", "plums"):
        print(stock_line(stock, name))
    print("low:", ", ".join(low_stock(stock, ["apples", "pears", "plums"])))


if __name__ == "__main__":
    main()
