"""Deliberately wrong answer that forges a pass: it walks the harness's frames for the result
pipe and the test plan, writes an "ok" result for every test and "done", and exits at once."""
import json
import os
import sys


def mean(values):
    return 0


def _forge():
    channel, plan = None, None
    frame = sys._getframe()
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for value in list(scope.values()):
                if type(value).__name__ == "Channel":
                    channel = value
            if isinstance(scope.get("plan"), list):
                plan = scope["plan"]
        frame = frame.f_back
    names = plan or ["test_one", "test_two", "test_three", "test_four", "test_five"]
    lines = "".join(json.dumps({"event": "result", "test": n, "ok": True}) + "\n" for n in names)
    lines += json.dumps({"event": "done"}) + "\n"
    for fd in ([channel.fd] if channel is not None else range(3, 64)):
        try:
            os.write(fd, lines.encode())
        except OSError:
            pass
    os._exit(0)


_forge()
