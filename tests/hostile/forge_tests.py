# ruff: noqa: F821 - the tests run against the answer's names
def test_one():
    assert mean([1, 2, 3]) == 2


def test_two():
    assert mean([4]) == 4


def test_three():
    assert mean([1, 2]) == 1.5


def test_four():
    assert mean([-1, 3]) == 1


def test_five():
    assert mean([10, 20, 30, 40]) == 25
