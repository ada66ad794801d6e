"""Loopback model servers with a set capacity, speaking both the OpenAI and the Ollama API.

Each server serves ``slots`` requests at once and holds each for ``service_s`` before it
streams the answer (time to first token), as a vLLM replica or an Ollama host would. Requests
beyond the slots wait in a queue (``over="queue"``, what Ollama and vLLM do) or are refused at
once with 429 or 503 (``over="429"``/``"503"``). Capacity and service time can change while a
batch runs. The server counts what matters for concurrency tests: requests in flight (arrived,
not finished), the most ever in flight, and every request's arrival with the in-flight count it
saw, so a test can ask what the client did in each phase.

asyncio streams rather than ``http.server``: 64 slots of sleeping requests must cost the
benchmark's client nothing. In a test: ``with CapacityServers([ServerSpec(slots=2)]) as s``;
for the benchmark, ``python -m tests.servers.capacity_server --slots 64 --service-ms 200``
prints its URLs and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

ANSWER = "```python\ndef add(a, b):\n    return a + b\n```\nThe request data is added."
MODEL = "loopback"


@dataclass
class ServerSpec:
    """One server's capacity and behaviour."""

    slots: int = 1
    service_s: float = 0.0
    over: str = "queue"  # queue | 429 | 503
    pieces: int = 8
    answer: str = ANSWER
    props: bool = False  # answer llama.cpp's ``GET /props`` with ``total_slots``
    prefix: str = ""  # served under this path, as behind a reverse proxy (``/ollama``)


@dataclass
class Arrival:
    at: float
    in_flight: int  # counting this request


@dataclass
class ServerStats:
    requests: int = 0
    served: int = 0
    refused: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # served: (start, end)

    def max_in_flight_since(self, since: float) -> int:
        return max((a.in_flight for a in self.arrivals if a.at >= since), default=0)


class CapacityServer:
    """One server on a free loopback port; its ``spec`` may be changed at any time."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.stats = ServerStats()
        self.port = 0
        self.host_up = True
        self._server: asyncio.AbstractServer | None = None
        self._busy = 0
        self._freed: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._freed = asyncio.Event()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port,
                                                  backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Go away like a killed process: listener closed, open connections cut."""
        self.host_up = False
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    # ---- HTTP/1.1, keep-alive, just enough of it

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while self.host_up:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = json.loads(await reader.readexactly(length)) if length else None
                path = path.split("?", 1)[0]
                prefix = self.spec.prefix
                if prefix and not path.startswith(prefix + "/"):
                    await self._json(writer, 404, {"error": f"no route {path}"})
                    continue
                await self._route(method, path[len(prefix):], body, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _json(writer: asyncio.StreamWriter, status: int, payload: Any,
                    headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\n{extra}\r\n".encode() + data)
        await writer.drain()

    async def _route(self, method: str, path: str, body: Any,
                     writer: asyncio.StreamWriter) -> None:
        if method == "GET" and path.rstrip("/") == "/v1/models":
            return await self._json(writer, 200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "owned_by": "loopback"}]})
        if method == "GET" and path == "/api/tags":
            return await self._json(writer, 200, {"models": [{
                "name": f"{MODEL}:latest", "model": f"{MODEL}:latest",
                "modified_at": "2026-01-01T00:00:00Z", "size": 1, "digest": "0" * 64,
                "details": {"format": "gguf", "family": "llama", "parameter_size": "135M",
                            "quantization_level": "Q4_1"}}]})
        if method == "POST" and path == "/api/show":
            return await self._json(writer, 200, {"details": {"family": "llama"},
                                                  "model_info": {}})
        if method == "GET" and path == "/props" and self.spec.props:
            return await self._json(writer, 200, {"total_slots": self.spec.slots,
                                                  "model_path": f"/models/{MODEL}.gguf"})
        if method == "GET" and path == "/api/version":
            return await self._json(writer, 200, {"version": "0.6.3"})
        if method == "POST" and path in ("/v1/chat/completions", "/api/chat"):
            return await self._generate(path == "/api/chat", body or {}, writer)
        await self._json(writer, 404, {"error": f"no route {path}"})

    async def _generate(self, ollama: bool, body: dict[str, Any],
                        writer: asyncio.StreamWriter) -> None:
        stats, spec = self.stats, self.spec
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.arrivals.append(Arrival(time.monotonic(), stats.in_flight))
        holding = False
        try:
            if self._busy >= spec.slots and spec.over != "queue":
                stats.refused += 1
                status = int(spec.over)
                return await self._json(writer, status, {"error": {
                    "message": "server busy", "type": "overloaded"}} if not ollama
                    else {"error": "server busy"})
            assert self._freed is not None
            while self._busy >= self.spec.slots:
                self._freed.clear()
                await self._freed.wait()
            self._busy += 1
            holding = True
            began = time.monotonic()
            if spec.service_s:
                await asyncio.sleep(spec.service_s)
            await self._stream(ollama, body, writer)
            stats.served += 1
            stats.spans.append((began, time.monotonic()))
        finally:
            stats.in_flight -= 1
            if holding:
                self._busy -= 1
                assert self._freed is not None
                self._freed.set()

    async def _stream(self, ollama: bool, body: dict[str, Any],
                      writer: asyncio.StreamWriter) -> None:
        spec = self.spec
        step = max(1, len(spec.answer) // spec.pieces)
        pieces = [spec.answer[i:i + step] for i in range(0, len(spec.answer), step)]
        model = body.get("model") or MODEL
        out: list[bytes] = []
        if ollama:
            for piece in pieces:
                out.append(json.dumps({"model": model, "created_at": "2026-01-01T00:00:00Z",
                                       "message": {"role": "assistant", "content": piece},
                                       "done": False}).encode() + b"\n")
            ms = int(spec.service_s * 1e9)
            out.append(json.dumps({
                "model": model, "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": ""}, "done": True,
                "done_reason": "stop", "total_duration": ms, "load_duration": 1000,
                "prompt_eval_count": 20, "prompt_eval_duration": ms,
                "eval_count": len(pieces), "eval_duration": 1000}).encode() + b"\n")
            kind = "application/x-ndjson"
        elif body.get("stream") is not True:  # a client that asked for one whole answer
            return await self._json(writer, 200, {
                "id": "c", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": spec.answer}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": len(pieces),
                          "total_tokens": 20 + len(pieces)}})
        else:
            for piece in pieces:
                out.append(b"data: " + json.dumps({
                    "id": "c", "object": "chat.completion.chunk", "model": model,
                    "choices": [{"index": 0, "delta": {"content": piece},
                                 "finish_reason": None}]}).encode() + b"\n\n")
            out.append(b"data: " + json.dumps({
                "id": "c", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": len(pieces),
                          "total_tokens": 20 + len(pieces)}}).encode() + b"\n\ndata: [DONE]\n\n")
            kind = "text/event-stream"
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        writer.write(head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in out) + b"0\r\n\r\n")
        await writer.drain()


class CapacityServers:
    """Several capacity servers on one event loop in a daemon thread (for tests)."""

    def __init__(self, specs: list[ServerSpec]) -> None:
        self.servers = [CapacityServer(s) for s in specs]
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="capacity-servers")

    def __enter__(self) -> Self:
        self._thread.start()
        for server in self.servers:
            asyncio.run_coroutine_threadsafe(server.start(), self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        for server in self.servers:
            if server.host_up:
                asyncio.run_coroutine_threadsafe(server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def stop(self, index: int) -> None:
        """Kill one server (listener and open connections) while the others serve."""
        asyncio.run_coroutine_threadsafe(self.servers[index].stop(), self.loop).result(10)

    def call(self, fn: Any) -> Any:
        """Run ``fn()`` on the servers' loop (to change a spec between two requests)."""
        done: asyncio.Future[Any] = asyncio.run_coroutine_threadsafe(_call(fn), self.loop)
        return done.result(10)


async def _call(fn: Any) -> Any:
    return fn()


def busy_share(servers: list[CapacityServer]) -> tuple[int, float]:
    """Across servers: the most requests being served at one moment, and the share of the
    servers' slot-time used between the first start and the last end."""
    spans = [span for s in servers for span in s.stats.spans]
    if not spans:
        return 0, 0.0
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    most = level = 0
    for _, step in edges:
        level += step
        most = max(most, level)
    window = max(b for _, b in spans) - min(a for a, _ in spans)
    slots = sum(s.spec.slots for s in servers)
    return most, sum(b - a for a, b in spans) / (window * slots) if window > 0 else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description="loopback model servers with a capacity")
    parser.add_argument("--count", type=int, default=1, help="servers (ports) to start")
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--service-ms", type=float, default=0.0)
    parser.add_argument("--over", default="queue", choices=("queue", "429", "503"))
    parser.add_argument("--stats-file", help="write stats JSON here when killed (SIGTERM)")
    args = parser.parse_args()

    async def serve() -> None:
        import signal

        servers = [CapacityServer(ServerSpec(args.slots, args.service_ms / 1000, args.over))
                   for _ in range(args.count)]
        for server in servers:
            await server.start()
        print(" ".join(s.url for s in servers), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        if args.stats_file:
            most, share = busy_share(servers)
            spans = [span for s in servers for span in s.stats.spans]
            window = (max(b for _, b in spans) - min(a for a, _ in spans)) if spans else 0.0
            Path(args.stats_file).write_text(json.dumps({
                "served": sum(s.stats.served for s in servers), "most_at_once": most,
                "window_s": window,
                "busy_share": share, "refused": sum(s.stats.refused for s in servers),
                "max_in_flight": [s.stats.max_in_flight for s in servers]}))

    asyncio.run(serve())


if __name__ == "__main__":
    main()
