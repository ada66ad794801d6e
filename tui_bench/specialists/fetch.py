"""Fetch a template's documents safely: bounded in time and size, HTML reduced to its text.

Documents come from links in files people share, so every fetch has a timeout and a byte cap
(the body is streamed and the download stops at the cap), and ``fetch_policy`` decides what
may be reached at all: files inside the template's folder (or allowed paths), public hosts
(unless private ones are allowed), checked on the resolved address and on every redirect.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlparse, urlsplit

from tui_bench.specialists.fetch_policy import FetchPolicy, PolicyError, resolve_checked

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_BYTES = 2_000_000
USER_AGENT = "tui-bench-enrich/1"
MAX_REDIRECTS = 5


class FetchError(Exception):
    """A document that could not be read; the message is the reason shown to people."""


@dataclass
class Fetched:
    """A document's text, and whether the byte cap cut it short."""

    text: str
    source: str
    content_type: str
    capped: bool


def http_client() -> httpx.AsyncClient:
    """A client for document fetches. httpx is imported only now: importing it loads its CLI's
    ``rich`` dependency, which the headless path should not pay for until it fetches."""
    import httpx

    # Redirects are followed by hand, so each hop's address is checked before it is reached.
    return httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": USER_AGENT})


class _TextExtractor(HTMLParser):
    """Collects visible text; drops script, style and other non-prose elements."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr",
                       "section", "article", "header", "footer", "ul", "ol", "table",
                       "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block per line, whitespace collapsed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip()
             for line in "".join(parser.parts).split("\n"))
    text = "\n".join(line for line in lines if line)
    title = parser.title.strip()
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def _looks_like_html(content_type: str, name: str, text: str) -> bool:
    if "html" in content_type:
        return True
    if name.lower().endswith((".html", ".htm")):
        return True
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html"))


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _finish(data: bytes, capped: bool, source: str, content_type: str,
            charset: str | None) -> Fetched:
    raw = _decode(data, charset)
    text = html_to_text(raw) if _looks_like_html(content_type, source, raw) else raw.strip()
    if not text:
        raise FetchError("the document has no text")
    return Fetched(text=text, source=source, content_type=content_type, capped=capped)


def local_path(source: str, root: Path) -> Path:
    """The file a ``file://`` URL or a relative path names; relative ones stay under ``root``."""
    if source.startswith("file://"):
        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            raise FetchError(f"file URL names another host ({parsed.netloc})")
        return Path(unquote(parsed.path))
    if "\x00" in source:
        raise FetchError("the path contains a NUL character")
    path = Path(source)
    if path.is_absolute():
        raise FetchError("an absolute path must be written as a file:// URL")
    base = root.resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise FetchError(f"the path leaves the template folder ({root})")
    return target


def _read_file(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    if not path.is_file():
        raise FetchError(f"file not found: {path}")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    return data[:max_bytes], len(data) > max_bytes


async def fetch_document(source: str, *, root: Path,
                         client: httpx.AsyncClient | None = None,
                         timeout_s: float = DEFAULT_TIMEOUT_S,
                         max_bytes: int = DEFAULT_MAX_BYTES,
                         policy: FetchPolicy | None = None) -> Fetched:
    """Read one document (``https``, ``http``, ``file`` or a path relative to ``root``), if
    ``policy`` (default: the strict one) lets it be reached."""
    policy = policy or FetchPolicy()
    if source.startswith(("https://", "http://")):
        own = client is None
        http = client or http_client()
        try:
            return await asyncio.wait_for(
                _fetch_http(http, source, timeout_s, max_bytes, policy), timeout=timeout_s)
        except PolicyError as exc:
            raise FetchError(str(exc)) from None
        except TimeoutError:
            raise FetchError(f"timed out after {timeout_s:g}s") from None
        finally:
            if own:
                await http.aclose()
    if "://" in source and not source.startswith("file://"):
        raise FetchError(f"unsupported scheme in {source!r} (use https, http, file or a path)")
    try:
        path = policy.check_file(local_path(source, root), root)
    except PolicyError as exc:
        raise FetchError(str(exc)) from None
    try:
        data, capped = await asyncio.to_thread(_read_file, path, max_bytes)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _finish(data, capped, str(path), "", None)


async def _pinned(url: str, policy: FetchPolicy) -> tuple[str, dict[str, str],
                                                           dict[str, str]]:
    """``url`` with its host replaced by the checked address, plus the ``Host`` header and
    TLS name that keep the request what it was: no second lookup between check and connect."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise FetchError(f"no host in {url!r}")
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError as exc:
        raise FetchError(f"{url!r}: {exc}") from None
    address = await resolve_checked(host, port, policy)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host:  # an IPv6 literal host keeps its brackets in the Host header
        header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    return pinned, {"Host": header}, {"sni_hostname": host}


async def _fetch_http(client: httpx.AsyncClient, url: str, timeout_s: float,
                      max_bytes: int, policy: FetchPolicy) -> Fetched:
    import httpx

    try:
        for _ in range(MAX_REDIRECTS + 1):
            pinned, headers, extensions = await _pinned(url, policy)
            request = client.build_request("GET", pinned, headers=headers,
                                           extensions=extensions, timeout=timeout_s)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                if response.is_redirect and location:
                    url = urljoin(url, location)
                    if not url.startswith(("https://", "http://")):
                        raise FetchError(f"redirected to {url!r}, which is not http(s)")
                    continue
                return await _read_body(response, url, max_bytes)
            finally:
                await response.aclose()
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {timeout_s:g}s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None


async def _read_body(response: httpx.Response, url: str, max_bytes: int) -> Fetched:
    """The body of a final (non-redirect) response, stopped at the byte cap."""
    if response.status_code >= 400:
        raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
    chunks: list[bytes] = []
    size = 0
    capped = False
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes:
            capped = size > max_bytes
            break
    data = b"".join(chunks)[:max_bytes]
    content_type = response.headers.get("content-type", "")
    return _finish(data, capped, url, content_type.lower(), response.charset_encoding)
