"""Descriptive statistics for lists of numbers."""


def mean(values: list[float]) -> float:
    """The arithmetic mean; raises ValueError for an empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)
