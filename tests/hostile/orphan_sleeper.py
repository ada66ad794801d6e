"""Model-written code that leaves a process behind: it forks through libc (past the audit hook),
starts a new session and becomes ``sleep __SECONDS__``, then answers normally."""
import ctypes

_libc = ctypes.CDLL(None)
if _libc.fork() == 0:
    _libc.setsid()
    _argv = (ctypes.c_char_p * 3)(b"sleep", b"__SECONDS__", None)
    _libc.execv(b"/bin/sleep", _argv)
    _libc._exit(0)


def add(a, b):
    return a + b
