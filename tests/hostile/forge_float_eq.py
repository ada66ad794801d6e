"""Deliberately wrong answer that forges a pass with a float whose ``==`` is always true."""


class Anything(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


def mean(values):
    return Anything(0)
