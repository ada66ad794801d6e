"""A small HTTP/1.1 client for the hot path: one POST per cell, its answer streamed back.

httpx costs about half a millisecond of CPU per request in its layers (httpcore, h11, anyio),
more than everything else tui-bench does for a cell against a fast server. This client does only
what a model server needs: keep-alive connections per server (reused for the whole batch),
requests with a body, answers framed by ``Content-Length``, chunked encoding or the connection
closing, TLS, and an HTTP proxy from the environment (``HTTP(S)_PROXY``/``NO_PROXY``, as httpx and
curl read them; ``https://`` through a ``CONNECT`` tunnel). It never follows redirects and
never asks for compressed answers.

Faults leave as :class:`HttpFault` subclasses saying what failed (connecting, a timeout, the
connection cut, an answer that is not HTTP), which the backends turn into messages naming the
server.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

HEAD_LIMIT = 64 * 1024
"""Most bytes of status line and headers accepted: a server sending more is not HTTP."""
HIGH_WATER = 256 * 1024
"""Bytes buffered from a server before reading pauses until the consumer catches up."""
MAX_IDLE = 256
"""Connections kept alive per server (as many as it may be given slots, see hostpool)."""
MAX_INTERIM = 16
"""Interim (1xx) answers accepted before the real one: a server sending them forever is
refused."""


class HttpFault(Exception):
    """A request that did not get a (whole) answer."""


class ConnectFault(HttpFault):
    """The server (or proxy) could not be reached."""


class TimeoutFault(HttpFault):
    """No byte came for the read timeout, or the connection took longer than its timeout."""


class ClosedFault(HttpFault):
    """The connection was cut before the answer was whole."""


class ProtocolFault(HttpFault):
    """What came back is not HTTP/1.x (or breaks its framing)."""


_TLS: dict[str, ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """Certificates from ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else certifi's bundle,
    else the system's; loaded once a process (50-100 ms), and only for ``https://``."""
    if "https" not in _TLS:
        cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        if not cafile and not capath:
            try:
                import certifi

                cafile = certifi.where()
            except ImportError:  # pragma: no cover - certifi comes with httpx
                cafile = None
        _TLS["https"] = ssl.create_default_context(cafile=cafile, capath=capath)
    return _TLS["https"]


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``NO_PROXY`` honoured), or ``None``."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy if "://" in proxy else "http://" + proxy


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    prefix: str  # the base URL's path, without the trailing slash

    @property
    def bracketed(self) -> str:
        """The host as a URL writes it: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def hostport(self) -> str:
        """``host:port``, what ``CONNECT`` names."""
        return f"{self.bracketed}:{self.port}"

    @property
    def authority(self) -> str:
        """What ``Host:`` names: the scheme's default port left out."""
        default = 443 if self.scheme == "https" else 80
        return self.bracketed if self.port == default else self.hostport


def _without_credentials(url: str) -> str:
    """``url`` without its ``user:password@``: messages are stored and shown."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectFault(f"not an http(s) URL: {_without_credentials(url)}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConnectFault(f"bad port in {_without_credentials(url)}") from None
    return _Target(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; bytes arrive into a buffer the reader pulls from."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.lost: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # ---- protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.lost = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- reading

    @property
    def usable(self) -> bool:
        return (not self.eof and self.transport is not None
                and not self.transport.is_closing() and not self.buffer)

    async def more(self, timeout: float) -> None:
        """Wait for bytes (or the end); a ``TimeoutFault`` after ``timeout`` seconds of none."""
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if self.eof:
            raise ClosedFault(str(self.lost) if self.lost else "the server closed the connection")
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, waiter, timeout)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutFault(f"no data for {timeout:g}s"))


class Response:
    """An answer's status and headers, its body read as it comes."""

    def __init__(self, pool: Http1Pool, conn: _Connection, status: int, reason: str,
                 headers: dict[str, str], method: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = pool.read_timeout
        encoding = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in encoding
        length = headers.get("content-length")
        self._remaining: int | None = None
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        elif not self._chunked and length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise ProtocolFault(f"bad Content-Length {length!r}") from None
        self._chunk_left = 0  # bytes left of the current chunk (chunked)
        self._done = self._remaining == 0
        self._keep = headers.get("connection", "").lower() != "close" and (
            self._chunked or self._remaining is not None)

    async def _next(self) -> bytes:
        """The next piece of the body; ``b""`` once it is whole."""
        conn = self._conn
        if self._done:
            return b""
        if conn is None:
            raise ClosedFault("the answer was closed before it was read whole")
        if self._chunked:
            return await self._next_chunked(conn)
        while not conn.buffer:
            if conn.eof:
                if self._remaining is None:  # framed by the connection closing
                    self._done, self._keep = True, False
                    return b""
                raise ClosedFault(f"the answer was cut short ({self._remaining} bytes missing)")
            await conn.more(self._timeout)
        if self._remaining is None:
            return conn.take(len(conn.buffer))
        data = conn.take(min(self._remaining, len(conn.buffer)))
        self._remaining -= len(data)
        if self._remaining == 0:
            self._done = True
        return data

    async def _line(self, conn: _Connection) -> bytes:
        while True:
            end = conn.buffer.find(b"\r\n")
            if end >= 0:
                line = conn.take(end + 2)[:-2]
                return line
            if len(conn.buffer) > 4096:
                raise ProtocolFault("a chunk header longer than 4096 bytes")
            if conn.eof:
                raise ClosedFault("the answer was cut short inside a chunk header")
            await conn.more(self._timeout)

    async def _next_chunked(self, conn: _Connection) -> bytes:
        if self._chunk_left == 0:
            size_line = await self._line(conn)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolFault(f"bad chunk size {size_line[:40]!r}") from None
            if size < 0:
                raise ProtocolFault(f"bad chunk size {size_line[:40]!r}")
            if size == 0:
                while await self._line(conn):  # trailers, up to the blank line
                    pass
                self._done = True
                return b""
            self._chunk_left = size
        while not conn.buffer:
            if conn.eof:
                raise ClosedFault("the answer was cut short inside a chunk")
            await conn.more(self._timeout)
        data = conn.take(min(self._chunk_left, len(conn.buffer)))
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            while len(conn.buffer) < 2:
                if conn.eof:
                    raise ClosedFault("the answer was cut short after a chunk")
                await conn.more(self._timeout)
            if conn.take(2) != b"\r\n":
                raise ProtocolFault("a chunk not followed by CRLF")
        return data

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        while True:
            data = await self._next()
            if not data:
                if self._done:
                    return
                continue
            yield data

    async def iter_text(self) -> AsyncIterator[str]:
        """The body as text (UTF-8, invalid bytes replaced), piece by piece as it arrives."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async for data in self.iter_bytes():
            text = decoder.decode(data)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def read(self, limit: int = 1 << 20) -> bytes:
        """The whole body (at most ``limit`` bytes are kept; the rest is read and dropped)."""
        parts: list[bytes] = []
        size = 0
        async for data in self.iter_bytes():
            if size < limit:
                parts.append(data[:limit - size])
            size += len(data)
        return b"".join(parts)

    async def read_text(self, limit: int = 1 << 20) -> str:
        """``read`` as text (UTF-8, invalid bytes replaced): error bodies, for messages."""
        return (await self.read(limit)).decode("utf-8", "replace")

    @property
    def complete(self) -> bool:
        return self._done

    async def aclose(self) -> None:
        """Give the connection back when the answer was read whole, else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep and conn.usable:
            self._pool._give_back(conn)
        else:
            conn.close()


class Http1Pool:
    """Keep-alive connections to one server, for one event loop."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 300.0,
                 proxy: str | None = None) -> None:
        self.target = _target(base_url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxy: _Target | None = None
        self._proxy_auth: str | None = None
        if proxy:
            parts = urlsplit(proxy)
            if parts.scheme not in ("http", "https"):
                raise ConnectFault(f"proxy {_without_credentials(proxy)} is not an http proxy "
                                   "(only http:// proxies are supported; set NO_PROXY to skip it)")
            self.proxy = _target(proxy)
            if parts.username is not None:
                user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                self._proxy_auth = "Basic " + base64.b64encode(user.encode()).decode()
        # Absolute-form request targets through a plain proxy; origin-form otherwise.
        self._absolute = self.proxy is not None and self.target.scheme == "http"
        fixed = {"Host": self.target.authority, "User-Agent": "tui-bench",
                 **(headers or {})}
        for name, value in fixed.items():
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise HttpFault(f"the {name} header has characters HTTP headers cannot carry "
                                "(only Latin-1)") from None
            if "\r" in value or "\n" in value:
                raise HttpFault(f"the {name} header has a line break in it")
        if self._absolute and self._proxy_auth:
            fixed["Proxy-Authorization"] = self._proxy_auth
        self._head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _path(self, path: str) -> str:
        """``path`` under the base URL's path; one starting with ``/`` from the server's root."""
        full = path if path.startswith("/") else f"{self.target.prefix}/{path}"
        if self._absolute:
            return f"http://{self.target.authority}{full}"
        return full

    async def request(self, method: str, path: str, body: bytes = b"", *,
                      content_type: str = "application/json") -> Response:
        """Send a request and read up to the end of the answer's headers."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._idle, self._loop = [], loop
        head = (f"{method} {self._path(path)} HTTP/1.1\r\n{self._head}"
                + (f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                   if body or method in ("POST", "PUT", "PATCH") else "")
                + "\r\n").encode("latin-1") + body
        resent = False
        while True:
            conn = None if resent else self._reuse()
            fresh = conn is None
            if conn is None:
                conn = await self._connect(loop)
            try:
                assert conn.transport is not None
                conn.transport.write(head)
                status, reason, headers = await self._read_head(conn)
                return Response(self, conn, status, reason, headers, method)
            except (ClosedFault, ProtocolFault) as exc:
                conn.close()
                # A kept-alive connection the server closed while idle: no byte of an answer
                # came, so the request never reached it; send it once more, on a new
                # connection (the other idle ones may be as dead: a server that dies on this
                # very request must not get it once per idle connection).
                if not fresh and isinstance(exc, ClosedFault) and not conn.buffer:
                    resent = True
                    continue
                raise
            except BaseException:
                conn.close()
                raise

    async def fetch(self, method: str, path: str, body: bytes = b"", *,
                    limit: int = 1 << 20) -> tuple[Response, bytes]:
        """A request whose whole answer is wanted at once (listings, a server's facts): its
        status and headers, and its body (at most ``limit`` bytes kept); the connection goes
        back to the pool."""
        response = await self.request(method, path, body)
        try:
            return response, await response.read(limit)
        finally:
            await response.aclose()

    def _reuse(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            conn.close()
        return None

    def _give_back(self, conn: _Connection) -> None:
        if len(self._idle) < MAX_IDLE and self._loop is conn.loop:
            if conn.paused and conn.transport is not None:
                # Paused by a large answer: read again, or a close while idle goes unseen.
                conn.paused = False
                conn.transport.resume_reading()
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        hop = self.proxy or self.target
        tls = self.target.scheme == "https"
        conn = _Connection(loop)
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: conn, hop.host, hop.port,
                    ssl=tls_context() if hop.scheme == "https" else None,
                    server_hostname=hop.host if hop.scheme == "https" else None)
                if self.proxy is not None and tls:
                    await self._tunnel(loop, conn)
        except TimeoutError:
            conn.close()
            raise TimeoutFault(f"connecting took longer than {self.connect_timeout:g}s") \
                from None
        except (HttpFault, asyncio.CancelledError):
            conn.close()
            raise
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            where = f"proxy {hop.host}:{hop.port}" if self.proxy else f"{hop.host}:{hop.port}"
            raise ConnectFault(f"{where}: {exc.strerror or exc}"
                               if isinstance(exc, OSError) and exc.strerror
                               else f"{where}: {exc}") from None
        return conn

    async def _tunnel(self, loop: asyncio.AbstractEventLoop, conn: _Connection) -> None:
        """``CONNECT`` through the proxy, then TLS to the server inside the tunnel."""
        authority = self.target.hostport
        auth = f"Proxy-Authorization: {self._proxy_auth}\r\n" if self._proxy_auth else ""
        assert conn.transport is not None
        conn.transport.write(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n"
                             .encode("latin-1"))
        status, reason, _ = await self._read_head(conn)
        if status != 200:
            raise ConnectFault(f"proxy refused the tunnel to {authority}: {status} {reason}")
        transport = await loop.start_tls(conn.transport, conn, tls_context(),
                                         server_hostname=self.target.host)
        if transport is None:  # pragma: no cover - only when the loop cannot do TLS
            raise ConnectFault("TLS through the proxy failed")
        conn.transport = transport

    async def _read_head(self, conn: _Connection) -> tuple[int, str, dict[str, str]]:
        for _ in range(MAX_INTERIM + 1):
            status, reason, headers = await self._read_one_head(conn)
            if not 100 <= status < 200 or status == 101:
                return status, reason, headers
            # 100 Continue and the like: the real answer follows
        raise ProtocolFault(f"more than {MAX_INTERIM} interim (1xx) answers")

    async def _read_one_head(self, conn: _Connection) -> tuple[int, str, dict[str, str]]:
        while True:
            end = conn.buffer.find(b"\r\n\r\n", 0, HEAD_LIMIT + 4)
            if end >= 0:
                break
            if len(conn.buffer) > HEAD_LIMIT:
                raise ProtocolFault(f"headers longer than {HEAD_LIMIT} bytes")
            if conn.eof:
                if conn.buffer:
                    raise ProtocolFault("the connection closed inside the answer's headers")
                raise ClosedFault(str(conn.lost) if conn.lost
                                  else "the server closed the connection without answering")
            await conn.more(self.read_timeout)
        lines = conn.take(end + 4)[:-4].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolFault(f"not an HTTP answer: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolFault(f"malformed header line {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return int(code), reason, headers

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
