"""Model-written code that calls libc ``system`` through ctypes, past the audit hook, to run a
shell command that writes outside its folder (__TARGET__ is filled in by the test)."""
import ctypes

ctypes.CDLL(None).system(b"echo escaped > __TARGET__")


def add(a, b):
    return a + b
