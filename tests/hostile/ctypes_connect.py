# ruff: noqa: F821 - a payload: the placeholder is filled in by the test
"""Model-written code that opens a TCP socket through libc (``socket``, ``connect``, ``send``),
past the audit hook, to reach a listener on this machine (__PORT__ is filled in by the test)."""
import ctypes
import socket
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_fd = _libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
_addr = struct.pack("!HH4s8x", socket.AF_INET, __PORT__, socket.inet_aton("127.0.0.1"))
_addr = struct.pack("=H", socket.AF_INET) + _addr[2:]
if _fd >= 0 and _libc.connect(_fd, _addr, len(_addr)) == 0:
    _libc.send(_fd, b"escaped", 7, 0)
    _libc.close(_fd)


def add(a, b):
    return a + b
