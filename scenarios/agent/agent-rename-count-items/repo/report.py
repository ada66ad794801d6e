"""One line of text per item, for the daily stock report."""

from inventory import get_item_count


def stock_line(stock: dict[str, int], name: str) -> str:
    """``name: N`` with the quantity on hand."""
    return f"{name}: {get_item_count(stock, name)}"
