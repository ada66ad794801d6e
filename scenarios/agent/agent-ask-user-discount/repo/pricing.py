"""Prices for the order form."""


def line_total(price: float, quantity: int, discount_percent: float = 0) -> float:
    """What ``quantity`` items at ``price`` each cost, less a percentage discount."""
    subtotal = price * quantity
    discount = price * discount_percent / 100
    return round(subtotal - discount, 2)


def order_total(lines: list[tuple[float, int, float]]) -> float:
    """The sum of every ``(price, quantity, discount_percent)`` line."""
    return round(sum(line_total(p, q, d) for p, q, d in lines), 2)
