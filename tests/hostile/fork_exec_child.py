"""Model-written code that spawns a fresh interpreter (no audit hook) with
``_posixsubprocess.fork_exec``; the child tries to write outside and to reach a listener."""
import _posixsubprocess
import os
import sys

_CHILD = (
    "import socket\n"
    "open('__TARGET__', 'w').write('escaped')\n"
    "socket.create_connection(('127.0.0.1', __PORT__), timeout=2).sendall(b'escaped')\n"
)
_r, _w = os.pipe()
_pid = _posixsubprocess.fork_exec(
    [sys.executable, "-c", _CHILD], [os.fsencode(sys.executable)], True, (), None, None,
    -1, -1, -1, -1, -1, -1, _r, _w, True, False, -1, None, None, None, -1, None, False)
os.close(_w)
os.read(_r, 1)
os.waitpid(_pid, 0)


def add(a, b):
    return a + b
