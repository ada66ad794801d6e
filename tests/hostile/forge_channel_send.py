"""Deliberately wrong answer that forges a pass by patching the harness's ``Channel.send`` so
every result it reports says "ok"."""
import sys


def mean(values):
    return 0


_harness = sys.modules.get("__main__")
_Channel = getattr(_harness, "Channel", None)
if _Channel is not None:
    _original = _Channel.send

    def _send(self, **event):
        if event.get("event") == "result":
            event["ok"] = True
            event.pop("error", None)
            event.pop("memory", None)
        return _original(self, **event)

    _Channel.send = _send
