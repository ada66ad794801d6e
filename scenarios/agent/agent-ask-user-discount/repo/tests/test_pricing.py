from pricing import line_total, order_total


def test_line_total_without_discount():
    assert line_total(2.5, 4) == 10.0


def test_line_total_single_item_discount():
    assert line_total(50, 1, 10) == 45.0


def test_order_total():
    assert order_total([(2.5, 4, 0), (50, 1, 10)]) == 55.0
