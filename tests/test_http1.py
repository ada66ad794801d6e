"""The light HTTP/1.1 client (``backends/http1.py``) against real loopback sockets.

Every server here is an asyncio server on 127.0.0.1 whose answers the test writes byte by
byte, so framing can be cut at awkward places, a connection can die at a chosen moment and
the server can count what it accepted. Nothing of the client is mocked. The faults are also
driven through the OpenAI backend, which must turn each into a ``BackendError`` naming the
server.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.loopback import free_port
from tui_bench.backends import BackendError, collect, http1
from tui_bench.backends.http1 import (
    HIGH_WATER,
    ClosedFault,
    ConnectFault,
    Http1Pool,
    ProtocolFault,
    Response,
    TimeoutFault,
    proxy_for,
)
from tui_bench.backends.openai import OpenAIBackend
from tui_bench.catalog import Catalog
from tui_bench.domain import GenerationOptions
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.store import Store

HI = [{"role": "user", "content": "hi"}]
OPTIONS = GenerationOptions(max_tokens=8)
READ_MAX = 256 * 1024
"""Most bytes an asyncio socket transport reads at once: the overshoot past ``HIGH_WATER``."""


# --------------------------------------------------------------------------- loopback servers


@dataclass
class Request:
    connection: int  # 1 for the first connection the server accepted
    line: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[["Origin", int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Origin:
    """A loopback server on the test's loop; ``answer`` serves each accepted connection."""

    answer: Answer
    ssl: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    hung_up: int = 0  # connections on which the client closed its side
    port: int = 0
    host: str = "127.0.0.1"
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def __aenter__(self) -> Origin:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            await self.answer(self, self.connections, reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def request(self, reader: asyncio.StreamReader, connection: int) -> Request | None:
        """The next request on a connection, or ``None`` once the client hung up."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.hung_up += 1
            return None
        request = parse_request(head, connection)
        request.body = await reader.readexactly(int(request.headers.get("content-length", 0)))
        self.requests.append(request)
        return request

    async def until_hung_up(self, reader: asyncio.StreamReader) -> None:
        """Wait for the client to close the connection (its end of file)."""
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        self.hung_up += 1

    def on(self, connection: int) -> list[str]:
        return [r.line for r in self.requests if r.connection == connection]


def parse_request(head: bytes, connection: int) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(connection, lines[0], headers, b"")


async def send(writer: asyncio.StreamWriter, *pieces: bytes) -> None:
    """Each piece in its own TCP write, the client given a turn of the loop to read it before
    the next: pieces arrive apart, as a slow network splits them."""
    for i, piece in enumerate(pieces):
        writer.write(piece)
        await writer.drain()
        if i < len(pieces) - 1:
            await asyncio.sleep(0.002)


def ok(body: bytes = b"ok", *headers: str, status: str = "200 OK") -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def keep_alive(*answers: bytes) -> Answer:
    """Answer each request on a connection with the next of ``answers`` (the last repeats)."""

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        served = 0
        while await origin.request(reader, n) is not None:
            await send(writer, answers[min(served, len(answers) - 1)])
            served += 1

    return answer


def in_pieces(*pieces: bytes) -> Answer:
    """Answer every request with ``pieces``, each in its own write."""

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        while await origin.request(reader, n) is not None:
            await send(writer, *pieces)

    return answer


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until true (a condition wait: no fixed sleep decides anything)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def get(pool: Http1Pool, path: str = "models", method: str = "GET",
              body: bytes = b"") -> tuple[Response, bytes]:
    response = await pool.request(method, path, body)
    try:
        return response, await response.read()
    finally:
        await response.aclose()


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the proxies a test sets: none from the environment this suite runs in."""
    import os

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.lower() == "ssl_cert_file":
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------- framing


async def test_content_length_body_split_everywhere() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Thing: a\r\n\r\nhello world"
    # Inside the status line, inside a header, inside the blank line, inside the body.
    cuts = [answer[:6], answer[6:20], answer[20:49], answer[49:51], answer[51:55], answer[55:]]

    async with Origin(in_pieces(*cuts)) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response, body = await get(pool)
        assert (response.status, response.reason, body) == (200, "OK", b"hello world")
        assert response.headers["x-thing"] == "a" and response.complete
        assert origin.requests[0].line == "GET /v1/models HTTP/1.1"
        assert origin.requests[0].headers["host"] == f"127.0.0.1:{origin.port}"
        await pool.aclose()


async def test_chunked_body_split_inside_size_line_and_crlf_with_extensions_and_trailers(
        ) -> None:
    letters = b"abcdefghijklmnopqrstuvwxyz"
    pieces = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"1",  # the size line cut in two: 0x1a = 26
        b"A;name=value\r\n" + letters[:10],  # a chunk extension; the data cut too
        letters[10:] + b"\r",  # the CRLF after the data cut in two
        b"\n5\r\nhello\r",
        b"\n0\r\nX-Trailer: yes\r\n",  # a trailer, then the blank line in its own write
        b"\r\n",
    ]

    async with Origin(in_pieces(*pieces)) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("GET", "models")
        seen = [piece async for piece in response.iter_bytes()]
        await response.aclose()
        assert b"".join(seen) == letters + b"hello"
        assert len(seen) >= 3  # given as it came, not gathered into one
        # The trailers and the final blank line were read exactly: the connection is whole
        # and the next request goes on it.
        _, again = await get(pool)
        assert again == letters + b"hello"
        assert origin.connections == 1 and len(origin.requests) == 2
        await pool.aclose()


async def test_body_framed_by_the_connection_closing() -> None:
    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ",
                   b"second ", b"third")
        # then the connection closes: that is where the body ends

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response, body = await get(pool)
        assert body == b"first second third" and response.complete
        _, body = await get(pool)  # a new connection: that one cannot be reused
        assert body == b"first second third"
        assert origin.connections == 2
        await pool.aclose()


async def test_204_has_no_body_and_keeps_the_connection() -> None:
    async with Origin(keep_alive(b"HTTP/1.1 204 No Content\r\n\r\n", ok(b"after"))) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response, body = await get(pool, method="DELETE")
        assert (response.status, body) == (204, b"")
        response, body = await get(pool)
        assert (response.status, body) == (200, b"after")
        assert origin.connections == 1
        await pool.aclose()


async def test_100_continue_is_skipped() -> None:
    async with Origin(keep_alive(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"real"))) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response, body = await get(pool, "chat/completions", "POST", b"{}")
        assert (response.status, body) == (200, b"real")
        assert origin.requests[0].body == b"{}"
        assert origin.requests[0].headers["content-type"] == "application/json"
        await pool.aclose()


async def test_iter_text_joins_a_character_split_across_writes() -> None:
    text = "héllo €uro ✓"
    raw = text.encode()
    cut = raw.index("€".encode()) + 1  # one byte of the three of "€"
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(raw)}\r\n\r\n".encode()

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, head + raw[:cut], raw[cut:])

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("GET", "models")
        pieces = [piece async for piece in response.iter_text()]
        await response.aclose()
        assert "".join(pieces) == text
        assert len(pieces) == 2 and not any("\ufffd" in p for p in pieces)
        await pool.aclose()


# --------------------------------------------------------------------------- keep-alive


async def test_requests_in_a_row_reuse_one_connection() -> None:
    async with Origin(keep_alive(ok(b"one"), ok(b"two"), ok(b"three"))) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        bodies = [(await get(pool, "chat/completions", "POST", b"{}"))[1] for _ in range(3)]
        assert bodies == [b"one", b"two", b"three"]
        assert origin.connections == 1 and len(origin.on(1)) == 3
        await pool.aclose()


async def test_connection_close_is_not_reused() -> None:
    # The server says "close" but keeps its end open: only the client's choice can make
    # the second request arrive on a new connection.
    async with Origin(keep_alive(ok(b"bye", "Connection: close"))) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        for _ in range(2):
            _, body = await get(pool)
            assert body == b"bye"
        assert origin.connections == 2
        assert len(origin.on(1)) == 1 and len(origin.on(2)) == 1
        await pool.aclose()


async def test_a_connection_closed_while_idle_is_not_used() -> None:
    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, ok(b"once"))  # then closes: an idle timeout on the server

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        await get(pool)
        idle = pool._idle[0]
        await wait_until(lambda: idle.eof)  # the client has seen the server's close
        assert not idle.usable
        _, body = await get(pool)
        assert body == b"once"
        assert origin.connections == 2 and len(origin.requests) == 2  # never sent on the dead
        await pool.aclose()


def drop_after_first(answer_first: bytes = b"", *, answer_on: set[int] | None = None) -> Answer:
    """Each connection answers its first request; a later one is read and the connection
    closed without a byte of answer, as when the server timed the connection out just as the
    request went out. Connections in ``answer_on`` answer every request."""

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        served = 0
        while await origin.request(reader, n) is not None:
            if served and n not in (answer_on or set()):
                return
            await send(writer, answer_first or ok(f"conn {n}".encode()))
            served += 1

    return answer


async def test_a_request_on_a_connection_that_died_unseen_is_sent_again_once() -> None:
    async with Origin(drop_after_first()) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        _, body = await get(pool, "chat/completions", "POST", b'{"n": 1}')
        assert body == b"conn 1"
        # The second POST reaches connection 1, which closes without answering: nothing of
        # an answer came, so it goes once more, on a new connection.
        _, body = await get(pool, "chat/completions", "POST", b'{"n": 2}')
        assert body == b"conn 2"
        assert [r.body for r in origin.requests] == [b'{"n": 1}', b'{"n": 2}', b'{"n": 2}']
        assert origin.connections == 2
        await pool.aclose()


async def test_a_connection_paused_by_a_large_answer_still_sees_a_close_while_idle() -> None:
    body = b"x" * (HIGH_WATER + 1000)

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, ok(body))  # then closes while the client holds it idle

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("GET", "models")
        conn = response._conn
        assert conn is not None
        # Reading paused once more than HIGH_WATER was buffered: the whole answer is in.
        await wait_until(lambda: conn.paused)
        assert await response.read() == body
        await response.aclose()
        assert pool._idle == [conn]
        await wait_until(lambda: conn.eof)  # the close while idle is seen...
        _, again = await get(pool)  # ...so the next request goes on a new connection
        assert again == body and origin.connections == 2 and len(origin.requests) == 2
        await pool.aclose()


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Turn a loop that never yields to the event loop into a failure instead of a hung
    suite (no asyncio timeout can fire while the loop is blocked)."""

    def hung(*_: object) -> None:
        raise TimeoutError("the event loop was blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def test_reading_an_answer_after_closing_it_is_a_fault_not_a_hang() -> None:
    async with Origin(keep_alive(ok(b"never read"))) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("GET", "models")
        await response.aclose()
        with hang_guard(3.0), pytest.raises(ClosedFault, match="closed before it was read"):
            await response.read()
        await pool.aclose()


CRASH = b'{"crash": true}'


async def test_the_resend_happens_once_not_once_per_idle_connection() -> None:
    """Three kept-alive connections that all die unseen (a server that crashes on this very
    request): the request is sent at most twice, never once per idle connection."""
    gate = asyncio.Event()

    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        while (request := await origin.request(reader, n)) is not None:
            if request.body == CRASH:
                return  # the connection dies without a byte of answer
            if origin.connections < 3:
                await gate.wait()  # hold the first answers: three connections are needed
            gate.set()
            await send(writer, ok(b"warm"))

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        await asyncio.gather(*(get(pool) for _ in range(3)))
        assert origin.connections == 3 and len(pool._idle) == 3
        with pytest.raises(ClosedFault):
            await get(pool, "chat/completions", "POST", CRASH)
        assert [r.body for r in origin.requests].count(CRASH) == 2
        assert origin.connections == 4  # the resend went on a new connection
        await pool.aclose()


@pytest.mark.parametrize(("second", "fault", "message"), [
    (b"HTTP/1.1 200 OK\r\nContent-", ProtocolFault, "closed inside the answer's headers"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", ClosedFault,
     "93 bytes missing"),
], ids=["cut-in-headers", "cut-in-body"])
async def test_a_post_whose_answer_had_begun_is_not_sent_again(
        second: bytes, fault: type[Exception], message: str) -> None:
    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, ok(b"first"))
        await origin.request(reader, n)
        await send(writer, second)  # then the connection dies

    async with Origin(answer) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        await get(pool, "chat/completions", "POST", b"{}")
        with pytest.raises(fault, match=message):
            await get(pool, "chat/completions", "POST", b'{"once": 1}')
        assert len(origin.requests) == 2 and origin.connections == 1
        await pool.aclose()


# --------------------------------------------------------------------------- faults


def openai(url: str, **settings: Any) -> OpenAIBackend:
    return OpenAIBackend(Settings(**{"openai_base_url": url, "openai_api_key": "x", **settings}))


async def chat_error(url: str, **settings: Any) -> BackendError:
    backend = openai(url, **settings)
    try:
        with pytest.raises(BackendError) as caught:
            await collect(backend.chat("m", HI, OPTIONS))
    finally:
        await backend.aclose()
    assert caught.value.host == backend.base_url
    assert backend.base_url in str(caught.value)
    return caught.value


async def test_connection_refused() -> None:
    port = free_port()
    pool = Http1Pool(f"http://127.0.0.1:{port}/v1", connect_timeout=5)
    with pytest.raises(ConnectFault, match=f"127.0.0.1:{port}"):
        await pool.request("GET", "models")
    error = await chat_error(f"http://127.0.0.1:{port}/v1")
    assert "cannot connect" in str(error) and error.transient
    backend = openai(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(BackendError, match=f"cannot connect to http://127.0.0.1:{port}/v1"):
        await backend.list_models()


async def silent(origin: Origin, n: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    await origin.request(reader, n)
    await origin.until_hung_up(reader)  # never a byte of answer


async def test_a_server_that_never_answers_times_out() -> None:
    async with Origin(silent) as origin:
        pool = Http1Pool(origin.url, read_timeout=0.2)
        with pytest.raises(TimeoutFault, match=r"no data for 0\.2s"):
            await pool.request("POST", "chat/completions", b"{}")
        error = await chat_error(origin.url, request_timeout_s=0.2, stall_timeout_s=0.2)
        assert "timed out" in str(error) and error.transient
        # The client hung up on both: nothing is left open on the server.
        await wait_until(lambda: origin.hung_up == 2)


async def test_a_body_that_stops_coming_times_out() -> None:
    async def stall(origin: Origin, n: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        await origin.until_hung_up(reader)

    async with Origin(stall) as origin:
        pool = Http1Pool(origin.url, read_timeout=0.2)
        response = await pool.request("GET", "models")
        with pytest.raises(TimeoutFault, match=r"no data for 0\.2s"):
            await response.read()
        await response.aclose()
        await wait_until(lambda: origin.hung_up == 1)
        assert not pool._idle


def sse(*events: str) -> bytes:
    return b"".join(f"data: {e}\n\n".encode() for e in events)


PIECE = json.dumps({"choices": [{"delta": {"content": "hi"}}]})


def cut_after(head: bytes, *pieces: bytes) -> Answer:
    async def answer(origin: Origin, n: int, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        await send(writer, head, *pieces)  # and the connection closes mid-body

    return answer


@pytest.mark.parametrize("head, body, message", [
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 4000\r\n\r\n",
     sse(PIECE, PIECE), "bytes missing"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
     b"%x\r\n%s\r\n100\r\nda" % (len(sse(PIECE)), sse(PIECE)), "cut short inside a chunk"),
], ids=["content-length", "chunked"])
async def test_a_body_cut_short(head: bytes, body: bytes, message: str) -> None:
    async with Origin(cut_after(head, body)) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("POST", "chat/completions", b"{}")
        with pytest.raises(ClosedFault, match=message):
            await response.read()
        await response.aclose()
        error = await chat_error(origin.url)
        assert "was cut during the response stream" in str(error) and error.transient


KEEPS_OPEN, CLOSES = False, True


@pytest.mark.parametrize("answer, closes, fault, message", [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", KEEPS_OPEN, ProtocolFault, "not an HTTP answer"),
    (b"hello there\n", CLOSES, ProtocolFault, "closed inside the answer's headers"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n", KEEPS_OPEN,
     ProtocolFault, "headers longer than 65536"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     KEEPS_OPEN, ProtocolFault, "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
     KEEPS_OPEN, ProtocolFault, "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
     KEEPS_OPEN, ProtocolFault, "not followed by CRLF"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\nhello", KEEPS_OPEN, ProtocolFault,
     "bad Content-Length"),
    (b"", CLOSES, ClosedFault, "without answering"),
    (b"HTTP/1.1 100 Continue\r\n\r\n" * 3000, KEEPS_OPEN, ProtocolFault, "interim"),
], ids=["ssh-banner", "no-blank-line", "huge-headers", "chunk-size-zz", "chunk-size-negative",
        "chunk-no-crlf", "content-length-word", "closed-at-once", "endless-100-continue"])
async def test_an_answer_that_is_not_http(answer: bytes, closes: bool, fault: type[Exception],
                                          message: str) -> None:
    """Where the server keeps the connection open, only the client closing it ends it: a
    broken connection must be closed, never kept for the next request nor leaked open."""

    async def serve(origin: Origin, n: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        if answer:
            await send(writer, answer)
        if not closes:
            await origin.until_hung_up(reader)

    async with Origin(serve) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        with pytest.raises(fault, match=message):
            await get(pool, "chat/completions", "POST", b"{}")
        if not closes:
            await wait_until(lambda: origin.hung_up == 1)
        assert not pool._idle
        error = await chat_error(origin.url)
        assert error.transient and str(error)


async def test_headers_that_never_end_are_refused_without_buffering_them_all() -> None:
    async def endless(origin: Origin, n: int, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(10_000):  # up to 20 MB of headers, if nobody stops reading
            writer.write(b"X-%d: %s\r\n" % (i, b"b" * 2000))
            await writer.drain()

    async with Origin(endless) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        with pytest.raises(ProtocolFault, match="headers longer than"):
            await pool.request("GET", "models")


# --------------------------------------------------------------------------- flow control


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_fast_server_and_a_slow_reader_keep_the_buffer_bounded(chunked: bool) -> None:
    size = 6 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)

    async def flood(origin: Origin, n: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        await origin.request(reader, n)
        if chunked:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"%x\r\n" % size + payload + b"\r\n0\r\n\r\n")  # one huge chunk
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + payload)
        await writer.drain()
        await origin.until_hung_up(reader)

    async with Origin(flood) as origin:
        pool = Http1Pool(origin.url, read_timeout=5)
        response = await pool.request("GET", "models")
        conn = response._conn
        assert conn is not None
        most = got = 0
        async for piece in response.iter_bytes():
            # A piece is what was buffered when the reader asked (all of it, up to the chunk's
            # end), so it and the buffer left behind together are what the client held.
            most = max(most, len(piece) + len(conn.buffer))
            got += len(piece)
            await asyncio.sleep(0.003)  # the slow consumer: the server could send far more
        await response.aclose()
        assert got == size
        assert most <= HIGH_WATER + READ_MAX, most
        assert most > HIGH_WATER // 2  # the reader was slow enough for the bound to matter
        await pool.aclose()


# --------------------------------------------------------------------------- proxies


@dataclass
class Proxy:
    """A loopback forward proxy: absolute-form requests are relayed to their origin, and a
    ``CONNECT`` opens a tunnel. It keeps every request head it received."""

    heads: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request = parse_request(head, len(self.heads) + 1)
            self.heads.append(request)
            method, target, _ = request.line.split(" ")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                assert target.startswith("http://"), target
                authority = target[len("http://"):].split("/", 1)[0]
                host, _, port = authority.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                up_writer.write(head)  # relayed as it came (the origin reads absolute form)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


MODELS = json.dumps({"data": [{"id": "through-the-proxy"}]}).encode()


async def test_an_http_proxy_from_the_environment_is_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with Origin(keep_alive(ok(MODELS))) as origin, Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy.port}")
        assert proxy_for(origin.url) == f"http://user:p%40ss@127.0.0.1:{proxy.port}"
        backend = openai(origin.url)
        models = await backend.list_models()
        await backend.aclose()
        assert [m.name for m in models] == ["through-the-proxy"]
        assert len(proxy.heads) == 1
        seen = proxy.heads[0]
        assert seen.line == f"GET http://127.0.0.1:{origin.port}/v1/models HTTP/1.1"
        assert seen.headers["host"] == f"127.0.0.1:{origin.port}"
        assert seen.headers["proxy-authorization"] == \
            "Basic " + base64.b64encode(b"user:p@ss").decode()
        assert seen.headers["authorization"] == "Bearer x"
        assert origin.requests[0].line == seen.line


async def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Origin(keep_alive(ok(MODELS))) as origin, Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert proxy_for(origin.url) is None
        backend = openai(origin.url)
        assert [m.name for m in await backend.list_models()] == ["through-the-proxy"]
        await backend.aclose()
        assert proxy.heads == []
        assert origin.requests[0].line == "GET /v1/models HTTP/1.1"


async def test_a_proxy_that_is_not_there_is_named() -> None:
    port = free_port()
    pool = Http1Pool("http://127.0.0.1:1/v1", proxy=f"http://127.0.0.1:{port}",
                     connect_timeout=5)
    with pytest.raises(ConnectFault, match=f"proxy 127.0.0.1:{port}"):
        await pool.request("GET", "models")
    with pytest.raises(ConnectFault, match="only http:// proxies") as caught:
        Http1Pool("http://127.0.0.1:1/v1", proxy="socks5://me:secret@127.0.0.1:1080")
    assert "secret" not in str(caught.value)


async def test_an_unusable_proxy_is_one_line_without_its_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for proxy in ("socks5://me:secret@127.0.0.1:1080", "http://me:secret@127.0.0.1:99999"):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        error = await chat_error("http://127.0.0.1:1/v1")
        assert "secret" not in str(error) and "127.0.0.1:1" in str(error)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate the client is told to trust."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    monkeypatch.setattr(http1, "_TLS", {})  # the client's context is cached once a process
    return context


async def test_https_directly_and_through_a_connect_tunnel(
        tls_server: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch) -> None:
    events = sse(PIECE, json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}]}),
                 "[DONE]")
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              b"Content-Length: %d\r\n\r\n" % len(events)) + events
    async with Origin(keep_alive(answer), ssl=tls_server) as origin, Proxy() as proxy:
        assert origin.url.startswith("https://")
        direct = openai(origin.url)
        text, _ = await collect(direct.chat("m", HI, OPTIONS))
        await direct.aclose()
        assert text == "hi" and proxy.heads == []

        monkeypatch.setenv("HTTPS_PROXY", f"http://tunnel:secret@127.0.0.1:{proxy.port}")
        tunnelled = openai(origin.url)
        for _ in range(2):
            text, _ = await collect(tunnelled.chat("m", HI, OPTIONS))
            assert text == "hi"
        await tunnelled.aclose()
        # One tunnel, kept alive for both requests; the proxy saw only the CONNECT.
        assert len(proxy.heads) == 1
        connect = proxy.heads[0]
        assert connect.line == f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1"
        assert connect.headers["proxy-authorization"] == \
            "Basic " + base64.b64encode(b"tunnel:secret").decode()
        # Inside the tunnel: origin-form, and the proxy's credentials never reach the server.
        inside = origin.requests[-1]
        assert inside.line == "POST /v1/chat/completions HTTP/1.1"
        assert "proxy-authorization" not in inside.headers
        assert origin.connections == 2  # one direct, one through the tunnel


async def test_a_tunnel_the_proxy_never_opens_is_closed_on_timeout_and_on_cancel() -> None:
    async with Origin(silent) as proxy:  # reads the CONNECT, never answers
        via = f"http://127.0.0.1:{proxy.port}"
        pool = Http1Pool("https://127.0.0.1:1/v1", proxy=via, connect_timeout=0.2)
        with pytest.raises(TimeoutFault, match=r"connecting took longer than 0\.2s"):
            await pool.request("GET", "models")
        await wait_until(lambda: proxy.hung_up == 1)

        pool = Http1Pool("https://127.0.0.1:1/v1", proxy=via, connect_timeout=30)
        task = asyncio.create_task(pool.request("GET", "models"))
        await wait_until(lambda: len(proxy.requests) == 2)
        task.cancel()  # the runner's own timer, or the user stopping the batch
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(lambda: proxy.hung_up == 2)  # the half-open tunnel was closed
        assert proxy.requests[1].line == "CONNECT 127.0.0.1:1 HTTP/1.1"


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_a_tunnel_to_an_ipv6_server_names_it_in_brackets(
        tls_server: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Origin(keep_alive(ok(MODELS)), ssl=tls_server, host="::1") as origin, \
            Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        pool = Http1Pool(origin.url, proxy=proxy_for(origin.url), connect_timeout=5)
        _, body = await get(pool)
        assert body == MODELS
        assert proxy.heads[0].line == f"CONNECT [::1]:{origin.port} HTTP/1.1"
        assert origin.requests[0].headers["host"] == f"[::1]:{origin.port}"
        await pool.aclose()


async def test_an_untrusted_certificate_is_a_connect_fault(
        tls_server: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # the system's roots do not know this certificate

    async def quiet(origin: Origin, n: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        await origin.until_hung_up(reader)

    async with Origin(quiet, ssl=tls_server) as origin:
        pool = Http1Pool(origin.url, connect_timeout=5)
        with pytest.raises(ConnectFault, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.request("GET", "models")


# --------------------------------------------------------------------------- the backend


async def test_the_runners_timer_ends_a_stalled_stream_and_its_connection(
        store: Store) -> None:
    """The two new parts together: the runner's per-stream timer cancels a wait inside the
    client's read; the cell fails as stalled, naming the server, and the connection is
    closed, not kept for the next cell."""

    async def stall(origin: Origin, n: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        while (request := await origin.request(reader, n)) is not None \
                and request.line.startswith("GET /props"):
            await send(writer, ok(b"", status="404 Not Found"))  # no capacity hint here
        await send(writer, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n",
                   b"%x\r\n%s\r\n" % (len(sse(PIECE)), sse(PIECE)))
        await origin.until_hung_up(reader)

    async with Origin(stall) as origin:
        settings = Settings(openai_base_url=origin.url, openai_api_key="x", max_retries=0,
                            request_timeout_s=5, stall_timeout_s=0.2)
        backend = OpenAIBackend(settings)
        runner = Runner(store, Catalog(), settings=settings)
        with pytest.raises(BackendError, match=r"stream stalled for 0\.2s") as caught:
            await runner._stream_on("run_1", backend, "m", HI, OPTIONS)
        assert caught.value.host == backend.base_url
        await wait_until(lambda: origin.hung_up == 1)
        assert backend._http is not None and not backend._http._idle
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        await backend.aclose()


async def test_chats_in_a_row_share_one_connection() -> None:
    """Through the OpenAI backend: a chunked event stream read to ``[DONE]`` gives its
    connection back, so a batch's cells reuse one connection."""
    events = sse(PIECE, PIECE, json.dumps({"choices": [{"delta": {}, "finish_reason": "stop"}],
                                           "usage": {"prompt_tokens": 3,
                                                     "completion_tokens": 2}}), "[DONE]")
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(events), events)
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n") + body
    async with Origin(keep_alive(answer)) as origin:
        backend = openai(origin.url)
        for _ in range(3):
            text, done = await collect(backend.chat("m", HI, OPTIONS))
            assert (text, done.completion_tokens) == ("hihi", 2)
        await backend.aclose()
        chats = [r for r in origin.requests if r.line.startswith("POST")]
        # (the backend may first ask GET /props for the server's slots: on the same connection)
        assert origin.connections == 1 and len(chats) == 3
        sent = json.loads(chats[0].body)
        assert sent["model"] == "m" and sent["stream"] is True


async def test_a_key_http_headers_cannot_carry_is_one_clear_line() -> None:
    for key, why in (("sk-caf\u00e9\u2603", "Latin-1"), ("sk-1\r\nX-Evil: 1", "line break")):
        error = await chat_error("http://127.0.0.1:1/v1", openai_api_key=key)
        assert "Authorization header" in str(error) and why in str(error)
        assert not error.transient
