"""The stock of a small shop: item name -> quantity on hand."""


def get_item_count(stock: dict[str, int], name: str) -> int:
    """How many of ``name`` are in ``stock`` (0 for an unknown item)."""
    return stock.get(name, 0)
