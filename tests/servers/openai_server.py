"""A tiny scripted OpenAI-compatible server for what a real one rarely does on cue.

Each ``/v1/chat/completions`` request takes the next queued :class:`Script` (or the default):
an HTTP error with ``Retry-After``, a normal event stream with or without usage, a stream cut
mid-way, a line that is not an event, an ``{"error": ...}`` event, or a server that rejects
``json_schema`` so the backend's fallback can be watched. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from .loopback import Handler, LoopbackServer


@dataclass
class Script:
    """One answer. ``kind``: ``stream``, ``status``, ``drop``, ``malformed``, ``error_event``,
    ``no_done`` (ends without ``[DONE]`` or a finish reason), ``json`` (not streamed),
    ``flood`` (``pieces[0]`` as one event ``count`` times, ``None``: endless; then done)."""

    kind: str = "stream"
    pieces: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "."])
    usage: dict[str, int] | None = None
    status: int = 500
    body: Any = None
    retry_after: str | None = None
    after: int = 2
    reject_json_schema: bool = False
    count: int | None = None
    raw: bytes | None = None  # flood: these bytes as they are, built before a test measures
    # Tool calls to stream after the text (``{"name": ..., "arguments": "<json text>"}``), as
    # real servers do: the first delta of a call carries its id and name, the arguments follow
    # in two pieces; the finish reason is then ``tool_calls``.
    tool_calls: list[dict[str, str]] | None = None


class OpenAITestServer:
    """``/v1/models`` and ``/v1/chat/completions`` on a free loopback port."""

    def __init__(self, model: str = "scripted-model", api_key: str | None = None) -> None:
        self.model = model
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.scripts: list[Script] = []
        self.default = Script()
        self._lock = threading.Lock()
        self.httpd = LoopbackServer(_OpenAIHandler)
        self.httpd.owner = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return self.httpd.url

    def start(self) -> "OpenAITestServer":
        self.httpd.start()
        return self

    def close(self) -> None:
        self.httpd.close()

    def queue(self, *scripts: Script) -> None:
        with self._lock:
            self.scripts.extend(scripts)

    def next_script(self) -> Script:
        with self._lock:
            return self.scripts.pop(0) if self.scripts else self.default

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.scripts.clear()
        self.default = Script()
        self.httpd.release_stalls()


class _OpenAIHandler(Handler):
    @property
    def owner(self) -> OpenAITestServer:
        return self.server.owner  # type: ignore[attr-defined]

    def _authorised(self) -> bool:
        key = self.owner.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self.send_json(401, {"error": {"message": "Incorrect API key provided.",
                                       "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
        return False

    def do_GET(self) -> None:  # noqa: N802
        with self.owner._lock:
            self.owner.requests.append({"path": self.path, "body": None,
                                        "headers": dict(self.headers)})
        if not self._authorised():
            return
        if self.path.rstrip("/") == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [
                {"id": self.owner.model, "object": "model", "owned_by": "tests",
                 "meta": {"n_ctx_train": 8192, "n_params": 134515008, "size": 96576768}}]})
        self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        with self.owner._lock:
            self.owner.requests.append({"path": self.path, "body": body,
                                        "headers": dict(self.headers)})
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": f"no route {self.path}"}})
        script = self.owner.next_script()
        fmt = (body or {}).get("response_format") or {}
        if script.reject_json_schema and fmt.get("type") == "json_schema":
            # What llama-cpp-python's pydantic model says about an unknown format type.
            self.owner.scripts.insert(0, script)
            return self.send_json(422, {"detail": [{
                "type": "literal_error", "loc": ["body", "response_format", "type"],
                "msg": "Input should be 'text' or 'json_object'"}]})
        if script.kind == "status":
            headers = {"Retry-After": script.retry_after} if script.retry_after else None
            payload = script.body if script.body is not None else {
                "error": {"message": f"scripted HTTP {script.status}", "type": "server_error"}}
            return self.send_json(script.status, payload, headers)
        model = (body or {}).get("model") or self.owner.model
        if script.kind == "json":
            return self.send_json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": "".join(script.pieces)}}],
                "usage": script.usage})
        self.start_chunked("text/event-stream")
        self.chunk(": ping\n\n")

        def event(payload: dict[str, Any]) -> None:
            self.chunk(f"data: {json.dumps(payload)}\n\n")

        if script.kind == "flood":
            self.flood(script.raw or "data: " + json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {"content": script.pieces[0]},
                             "finish_reason": None}]}) + "\n\n", script.count)
            script = Script(pieces=[])

        for index, piece in enumerate(script.pieces):
            if index == script.after:
                if script.kind == "drop":
                    return self.drop()
                if script.kind == "malformed":
                    self.chunk("data: {not json\n\n")
                if script.kind == "error_event":
                    event({"error": {"message": "the model crashed", "type": "server_error",
                                     "code": 500}})
                    return self.end_chunked()
            event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                   "choices": [{"index": 0, "delta": {"content": piece},
                                "finish_reason": None}]})
        if script.kind == "no_done":
            return self.end_chunked()
        for number, call in enumerate(script.tool_calls or []):
            args = call.get("arguments", "")
            half = len(args) // 2
            deltas = [{"index": number, "id": f"call_{number}", "type": "function",
                       "function": {"name": call["name"], "arguments": args[:half]}},
                      {"index": number, "function": {"arguments": args[half:]}}]
            for delta in deltas:
                event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                       "choices": [{"index": 0, "delta": {"tool_calls": [delta]},
                                    "finish_reason": None}]})
        finish = "tool_calls" if script.tool_calls else "stop"
        event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
               "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if script.usage is not None:
            event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                   "choices": [], "usage": script.usage})
        self.chunk("data: [DONE]\n\n")
        self.end_chunked()
