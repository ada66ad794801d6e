"""Model-written code that calls libc ``open`` with O_CREAT through ctypes, past the audit hook,
to create a file outside its folder (__TARGET__ is filled in by the test)."""
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_fd = _libc.open(b"__TARGET__", os.O_WRONLY | os.O_CREAT, 0o644)
if _fd >= 0:
    _libc.write(_fd, b"escaped", 7)
    _libc.close(_fd)


def add(a, b):
    return a + b
