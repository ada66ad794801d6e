"""A threaded HTTP server on 127.0.0.1 with a free port, and helpers for chunked streaming.

The standard library's server is used on purpose: it lets a test cut a connection in the middle
of a chunked body, stall forever or write a line that is not JSON, which a framework would
politely prevent.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    """Request handler with JSON and chunked-transfer helpers (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: "LoopbackServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep tests quiet
        return

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError:
            return raw.decode(errors="replace")

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_chunked(self, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if raw:
            self.wfile.write(b"%x\r\n" % len(raw))
            self.wfile.write(raw)  # not joined: a big chunk is never copied
            self.wfile.write(b"\r\n")
            self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Cut the connection without finishing the body: what a crashed server looks like."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def flood(self, line: str | bytes, count: int | None) -> None:
        """Send ``line`` ``count`` times (``None``: until the client hangs up or the test
        releases the server): a server that ignores every limit."""
        raw = line.encode() if isinstance(line, str) else line
        sent = 0
        while (count is None or sent < count) and not self.server.release.is_set():
            self.chunk(raw)
            sent += 1

    def stall(self) -> None:
        """Hang until the test releases the server (or 60 s): a stuck model runner."""
        self.server.release.wait(60)
        self.drop()


class LoopbackServer(ThreadingHTTPServer):
    """A server on a free loopback port, serving from a daemon thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[Handler], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.release = threading.Event()
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LoopbackServer":
        self._thread = threading.Thread(target=self.serve_forever, name=f"loopback-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a keep-alive connection is normal here; anything else is not."""
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def release_stalls(self) -> None:
        """Let every stalled handler go, then arm a fresh event for the next test."""
        self.release.set()
        self.release = threading.Event()

    def close(self) -> None:
        """Stop like a killed process: keep-alive connections die too, not just the listener."""
        self.release.set()
        self.shutdown()
        self.server_close()
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
