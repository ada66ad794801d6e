"""The Ollama backend: one or more Ollama servers, spoken to over their HTTP API (``http1.py``).

Cells are spread over the configured hosts through the ``HostPool``: each call takes a slot on
the least-loaded healthy host among those that have the model (round-robin on ties), so two
servers really run two cells at once; a host serves one request at a time unless told
(``--concurrency``) or probed (``--adaptive``), and one that fails sits out a cooldown.

Every counter in the final ``Done`` comes from Ollama itself (nanoseconds turned into
milliseconds); a counter Ollama did not send stays ``None``, never a made-up zero.

Every fault - refused, timed out, cut mid-stream, an HTTP error, a line that is not JSON -
leaves ``chat()`` and ``list_models()`` as a ``BackendError`` that names the host and says
whether trying again may help. The engine decides what to do with it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tui_bench.backends.base import (
    BackendError,
    Chunk,
    Done,
    Message,
    TextChunk,
    Tool,
    ToolCallChunk,
)
from tui_bench.backends.hostpool import HostPool, Lease, lease_for_call
from tui_bench.backends.http1 import (
    ClosedFault,
    ConnectFault,
    Http1Pool,
    HttpFault,
    ProtocolFault,
    Response,
    TimeoutFault,
    proxy_for,
)
from tui_bench.backends.streams import (
    CONNECT_TIMEOUT_S,
    DISCOVERY_TIMEOUT_S,
    LINE_SLACK,
    HostStream,
    bounded_lines,
    drain,
    parse_retry_after,
)
from tui_bench.domain import GenerationOptions, ModelInfo
from tui_bench.settings import Settings

DEFAULT_HOST = "http://127.0.0.1:11434"

PAID_LOAD_MS = 100.0
"""``paid_load`` rule: a call paid for loading the weights when Ollama's ``load_duration`` is
above this. A model already in memory reports a few milliseconds of scheduling (tens at most
on a busy server); reading even a 100M-parameter model from disk and setting up its context
takes longer. ``done_reason == "load"`` (a load-only request) also counts."""

LISTING_MAX_BYTES = 32 * 1024 * 1024
"""Most of a model listing or ``/api/show`` answer read (a listing of hundreds of models is
well under a megabyte)."""

REDISCOVER_AFTER_S = 5.0
"""A model missing from the cached listing is looked for again, at most this often per host."""

_SIZE_UNITS = {"K": 1e-6, "M": 1e-3, "B": 1.0, "G": 1.0, "T": 1e3}


def normalise_host(host: str) -> str:
    """``127.0.0.1``, ``host:port`` or a URL -> ``http://host:port[/path]``, read the way
    Ollama's own client reads ``OLLAMA_HOST``: port 11434 without a scheme, 80/443 with
    one, IPv6 in brackets, a trailing slash dropped."""
    text, port = (host or "").strip(), 11434
    scheme, _, hostport = text.partition("://")
    if not hostport:
        scheme, hostport = "http", text
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
    name = split.hostname or "127.0.0.1"
    port = split.port or port
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"
    except ValueError:
        pass
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}/{path}" if path else f"{scheme}://{name}:{port}"


def canonical_name(name: str) -> str:
    """Ollama treats ``llama3`` as ``llama3:latest``; compare names in that form."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def parse_parameter_size(text: str | None) -> float | None:
    """``"8.0B"`` -> 8.0, ``"134.52M"`` -> 0.13452, ``"1.5T"`` -> 1500.0 (billions)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMBGT])?\s*", text.upper())
    if not match:
        return None
    value = float(match.group(1))
    unit = match.group(2)
    if unit is None:  # a bare count of parameters
        return value / 1e9
    return value * _SIZE_UNITS[unit]


def keep_alive_value(value: str | float | None) -> str | float | None:
    """Ollama reads a string as a Go duration (``"5m"``) and a number as seconds; ``"0"`` or
    ``"300"`` from the command line would be rejected as a duration without unit, so send it as
    a number."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def ns_to_ms(value: int | None) -> float | None:
    return None if value is None else value / 1e6


def ollama_options(options: GenerationOptions) -> dict[str, Any]:
    """GenerationOptions in Ollama's spelling; they all go inside ``options``."""
    out: dict[str, Any] = {
        "temperature": options.temperature,
        "num_ctx": options.num_ctx,
        "num_predict": options.max_tokens,
    }
    if options.seed is not None:
        out["seed"] = options.seed
    if options.top_p is not None:
        out["top_p"] = options.top_p
    if options.stop:
        out["stop"] = list(options.stop)
    return out


def paid_load(load_ms: float | None, done_reason: str | None) -> bool | None:
    """Whether this call loaded the model (see ``PAID_LOAD_MS``); unknown without a counter."""
    if done_reason == "load":
        return True
    if load_ms is None:
        return None
    return load_ms > PAID_LOAD_MS


class StatusError(Exception):
    """An HTTP error answer (``status_code``), or an ``error`` line inside a stream (-1), with
    Ollama's ``{"error": ...}`` text and the ``Retry-After`` it asked for."""

    def __init__(self, error: str, status_code: int = -1,
                 retry_after: float | None = None) -> None:
        try:  # Ollama answers {"error": "..."}; anything else is shown as it came
            error = str(json.loads(error)["error"])
        except (ValueError, TypeError, KeyError):
            pass
        super().__init__(error)
        self.error = error
        self.status_code = status_code
        self.retry_after = retry_after

    @classmethod
    def of(cls, response: Response, body: str) -> StatusError:
        """An HTTP error answer, with the pause its ``Retry-After`` asks for."""
        return cls(body, response.status, parse_retry_after(response.headers.get("retry-after")))


@dataclass
class _HostState:
    """What one host offers, as of its last listing."""

    tags: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical name -> entry
    listed_at: float | None = None
    error: str | None = None


def ollama_messages(messages: list[Message]) -> list[Message]:
    """The OpenAI message shape in Ollama's: call arguments as objects, ``tool_name``."""
    out: list[Message] = []
    for message in messages:
        if message.get("role") == "tool":
            out.append({"role": "tool", "content": message.get("content") or "",
                        "tool_name": message.get("name") or ""})
            continue
        calls = message.get("tool_calls")
        if not calls:
            out.append(message)
            continue
        converted = []
        for call in calls:
            function = call.get("function") or {}
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    arguments = {"_raw": arguments}
            if not isinstance(arguments, dict):
                arguments = {"_raw": arguments}
            converted.append({"function": {"name": function.get("name") or "",
                                           "arguments": arguments}})
        out.append({"role": "assistant", "content": message.get("content") or "",
                    "tool_calls": converted})
    return out


class OllamaBackend:
    """Ollama servers from ``Settings.ollama_hosts`` (default ``http://127.0.0.1:11434``)."""

    name = "ollama"

    def __init__(self, settings: Settings | None = None, *,
                 hosts: HostPool | None = None) -> None:
        self.settings = settings or Settings()
        urls = self.settings.ollama_hosts or [DEFAULT_HOST]
        self.hosts: list[str] = list(dict.fromkeys(normalise_host(h) for h in urls))
        self.pool = hosts or HostPool()
        for host in self.hosts:
            # Ollama serves one request at a time unless OLLAMA_NUM_PARALLEL says otherwise.
            self.pool.add(host, slots=1, adaptive=self.settings.adaptive)
        self._state: dict[str, _HostState] = {h: _HostState() for h in self.hosts}
        self._params: dict[str, float | None] = {}  # canonical name -> billions
        self._pools: dict[str, Http1Pool] = {}  # one keep-alive pool per host and loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._discover_lock: asyncio.Lock | None = None
        self.problems: dict[str, str] = {}
        """Hosts that failed the last ``list_models()``, with the reason (for ``models``)."""

    # ---- connections (one pool per host per event loop: a connection is bound to its loop)

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections of a finished loop cannot be closed from this one; drop them.
            self._loop = loop
            self._pools = {}
            self._discover_lock = asyncio.Lock()

    def _connections(self, host: str) -> Http1Pool:
        """The light HTTP/1.1 client (``http1.py``) for everything: Ollama's official client
        and httpx cost a cell several times the rest of its harness work, and ~110 ms of
        start-up to import."""
        self._bind_loop()
        pool = self._pools.get(host)
        if pool is None:
            read = max(self.settings.request_timeout_s, self.settings.stall_timeout_s)
            try:
                pool = Http1Pool(host, headers={"Accept": "application/x-ndjson"},
                                 connect_timeout=min(CONNECT_TIMEOUT_S, read),
                                 read_timeout=read, proxy=proxy_for(host))
            except HttpFault as exc:
                raise BackendError(f"cannot use Ollama at {host}: {exc}", host=host) from None
            self._pools[host] = pool
        return pool

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - called outside a loop
            return
        if self._loop is not current:
            return
        for pool in pools.values():
            await pool.aclose()

    async def _json(self, host: str, method: str, path: str,
                    body: dict[str, Any] | None = None) -> Any:
        """One discovery request (``api/tags``, ``api/show``), its JSON answer."""
        payload = json.dumps(body).encode() if body is not None else b""
        response, data = await self._connections(host).fetch(method, path, payload,
                                                             limit=LISTING_MAX_BYTES)
        if response.status >= 400:
            raise StatusError.of(response, data.decode("utf-8", "replace"))
        return json.loads(data)

    # ---- faults

    def _fault(self, exc: BaseException, host: str, model: str | None = None,
               during: str = "request") -> BackendError:
        """Any exception from a request as a ``BackendError`` naming the host."""
        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, StatusError):
            status = exc.status_code
            retry_after = getattr(exc, "retry_after", None)
            text = str(exc.error).strip() or "no detail"
            if status == 404 and model is not None:
                self._forget(host, model)
                return BackendError(
                    f"model {model!r} not found on {host} ({text}); run `ollama pull {model}` "
                    f"there", host=host)
            if status == -1:
                # An error line inside a stream: the runner crashed or ran out of memory.
                return BackendError(f"Ollama reported an error during the {during}: {text}",
                                    host=host, transient=True)
            if status == 429 or status >= 500:
                return BackendError(f"Ollama answered HTTP {status} ({text})", host=host,
                                    transient=True, retry_after=retry_after,
                                    overloaded=status in (429, 503))
            return BackendError(f"Ollama refused the {during}: HTTP {status} ({text})",
                                host=host)
        if isinstance(exc, (ConnectionError, ConnectFault)):
            return BackendError(
                f"cannot connect to Ollama at {host} (is `ollama serve` running there?)",
                host=host, transient=True)
        if isinstance(exc, TimeoutFault):
            return BackendError(f"Ollama at {host} timed out during the {during} "
                                f"({exc or type(exc).__name__})", host=host, transient=True)
        if isinstance(exc, (ClosedFault, ProtocolFault)):
            return BackendError(f"connection to {host} was cut during the {during}: "
                                f"{exc or type(exc).__name__}", host=host, transient=True)
        if isinstance(exc, (ValueError, TypeError, AttributeError, KeyError)):
            # json.JSONDecodeError, a JSON value that is not an object, a chunk without the
            # fields every Ollama chunk has: this is not an Ollama answer, and retrying will
            # not make it one.
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return BackendError(f"malformed data from {host} during the {during}: {detail}",
                                host=host)
        if isinstance(exc, (HttpFault, OSError)):
            return BackendError(f"network error talking to {host}: {exc or type(exc).__name__}",
                                host=host, transient=True)
        return BackendError(f"unexpected error from {host}: {type(exc).__name__}: {exc}",
                            host=host)

    # ---- discovery

    async def server_version(self) -> str | None:
        """``ollama X.Y.Z`` from the first host that says (``api/version``), for the record
        of what a batch ran on; None when none answers within 5 s."""
        for host in self.hosts:
            try:
                async with asyncio.timeout(5):
                    data = await self._json(host, "GET", "api/version")
                return f"ollama {data['version']}"
            except Exception:  # noqa: BLE001 - unknown version: the batch still runs
                continue
        return None

    async def _list_host(self, host: str) -> dict[str, Any]:
        """``/api/tags`` on one host, cached; raises ``BackendError``."""
        try:
            listing = await asyncio.wait_for(self._json(host, "GET", "api/tags"),
                                             timeout=min(DISCOVERY_TIMEOUT_S,
                                                         self.settings.request_timeout_s))
            items = _listed_models(listing)
        except TimeoutError:
            error = BackendError(f"Ollama at {host} did not list its models in time", host=host,
                                 transient=True)
            self._state[host].error = str(error)
            raise error from None
        except Exception as exc:
            error = self._fault(exc, host, during="model listing")
            self._state[host].error = str(error)
            raise error from None
        tags = {}
        for item in items:
            name = item.get("model") or item.get("name")
            if not name:
                continue
            tags[canonical_name(name)] = item
            size = parse_parameter_size(_details(item).get("parameter_size"))
            if size is not None:
                self._params[canonical_name(name)] = size
        state = self._state[host]
        state.tags, state.listed_at, state.error = tags, time.monotonic(), None
        return tags

    async def _show(self, host: str, name: str) -> dict[str, Any]:
        shown = await asyncio.wait_for(self._json(host, "POST", "api/show", {"model": name}),
                                       timeout=min(DISCOVERY_TIMEOUT_S,
                                                   self.settings.request_timeout_s))
        if not isinstance(shown, dict):
            raise TypeError("api/show did not answer a JSON object")
        return shown

    async def list_models(self) -> list[ModelInfo]:
        """Every model on every host (``list`` then ``show``), merged by name.

        A model on several hosts is one entry whose ``host`` lists them all. A host that does not
        answer is noted in ``problems`` and the models it had before are marked unreachable;
        when no host answers at all this raises, naming every host.
        """
        known_before = {h: dict(s.tags) for h, s in self._state.items()}
        results = await asyncio.gather(*(self._describe_host(h) for h in self.hosts),
                                       return_exceptions=True)
        self.problems = {}
        merged: dict[str, ModelInfo] = {}
        for host, result in zip(self.hosts, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, BackendError):
                    result = self._fault(result, host, during="model listing")
                self.problems[host] = str(result)
                continue
            for info in result:
                if info.name in merged:
                    first = merged[info.name]
                    first.host = f"{first.host}, {host}"
                else:
                    merged[info.name] = info
        if len(self.problems) == len(self.hosts):
            if len(self.hosts) == 1:
                raise BackendError(next(iter(self.problems.values())), host=self.hosts[0],
                                   transient=True)
            raise BackendError("no Ollama host answered: " + "; ".join(self.problems.values()),
                               host=", ".join(self.hosts), transient=True)
        for host in self.problems:
            for name, item in known_before.get(host, {}).items():
                display = item.get("model") or name
                if display not in merged:
                    merged[display] = self._info(host, display, item, None, reachable=False)
        return sorted(merged.values(), key=lambda i: i.name)

    async def _describe_host(self, host: str) -> list[ModelInfo]:
        tags = await self._list_host(host)
        limit = asyncio.Semaphore(4)

        async def one(item: dict[str, Any]) -> ModelInfo:
            name = str(item.get("model") or item.get("name"))
            async with limit:
                try:
                    shown = await self._show(host, name)
                except (TimeoutError, Exception):
                    shown = None  # the listing alone still says most of it
            return self._info(host, name, item, shown)

        return list(await asyncio.gather(*(one(item) for item in tags.values())))

    def _info(self, host: str, name: str, item: dict[str, Any], shown: dict[str, Any] | None,
              *, reachable: bool = True) -> ModelInfo:
        details = _details(item) or (_details(shown) if shown is not None else {})
        model_info = shown.get("model_info") if shown is not None else None
        model_info = model_info if isinstance(model_info, dict) else {}
        parameter_size = details.get("parameter_size")
        billions = parse_parameter_size(parameter_size)
        count = model_info.get("general.parameter_count")
        if billions is None and isinstance(count, (int, float)) and count > 0:
            billions = count / 1e9
        if billions is not None:
            self._params[canonical_name(name)] = billions
        context = next((v for k, v in model_info.items()
                        if k.endswith(".context_length") and isinstance(v, int)), None)
        family = details.get("family") or model_info.get("general.architecture")
        size = item.get("size")
        return ModelInfo(
            ref=f"ollama:{name}", backend="ollama", name=name, family=family,
            parameter_size=parameter_size, parameters_b=billions,
            quantization=details.get("quantization_level"),
            size_bytes=int(size) if isinstance(size, (int, float)) else None,
            digest=item.get("digest"), context_length=context, host=host,
            reachable=reachable)

    async def parameters_b(self, name: str) -> float | None:
        """Billions of parameters, from discovery; lists the hosts when the model was not seen
        yet, so ``--max-model-b`` is enforced before any generation. ``None`` when no host
        knows the model or none answers (the call itself will say why)."""
        key = canonical_name(name)
        if key not in self._params:
            await self._discover_size(name)
        return self._params.get(key)

    async def _discover_size(self, name: str) -> None:
        """List each host (and ``show`` the model if its listing gives no size) until one
        knows how big the model is; an unreachable or odd host is skipped."""
        key = canonical_name(name)
        for host in self.hosts:
            try:
                tags = await self._list_host(host)
                if key not in self._params and key in tags:
                    shown = await self._show(host, name)
                    count = (shown.get("model_info") or {}).get("general.parameter_count")
                    if isinstance(count, int | float) and count > 0:
                        self._params[key] = count / 1e9
            except Exception:  # unreachable or odd: unknown size, the call will report it
                continue
            if key in self._params:
                return

    # ---- routing

    def _forget(self, host: str, model: str) -> None:
        self._state[host].tags.pop(canonical_name(model), None)

    async def _hosts_with(self, model: str) -> list[str]:
        """Hosts that have the model, listing hosts whose listing is missing or stale."""
        key = canonical_name(model)
        self._bind_loop()
        assert self._discover_lock is not None
        async with self._discover_lock:
            now = time.monotonic()
            stale = [h for h in self.hosts if key not in self._state[h].tags
                     and _stale(self._state[h].listed_at, now)]
            if stale:
                await asyncio.gather(*(self._list_host(h) for h in stale),
                                     return_exceptions=True)
        having = [h for h in self.hosts if key in self._state[h].tags]
        if having:
            return having
        unknown = [h for h in self.hosts if self._state[h].error is not None]
        if unknown:
            # Hosts we could not list may still have it: trying one reports the real fault.
            return unknown
        where = ", ".join(self.hosts)
        raise BackendError(f"model {model!r} is not on any Ollama host ({where}); "
                           f"run `ollama pull {model}`", host=where)

    @property
    def default_concurrency(self) -> int:
        return self.pool.capacity(self.hosts)

    def host_keys(self) -> list[str]:
        return list(self.hosts)

    def in_flight(self) -> dict[str, int]:
        return {h: self.pool.hosts[h].in_flight for h in self.hosts}

    async def reserve(self, model: str) -> Lease:
        """A slot on the least-loaded healthy host that has the model (waits for one)."""
        return await self.pool.acquire(await self._hosts_with(model))

    # ---- generation

    def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
             schema: dict[str, Any] | None = None,
             tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """Stream from the least busy host that has the model; ``schema`` becomes ``format``;
        ``tools`` go as Ollama's ``tools`` and its ``tool_calls`` come back as chunks."""
        return HostStream(lambda stream: self._chat(stream, model, messages, options, schema,
                                                    tools))

    async def _chat(self, stream: HostStream, model: str, messages: list[Message],
                    options: GenerationOptions, schema: dict[str, Any] | None,
                    tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        lease, own = await lease_for_call(self._state.__contains__,
                                          lambda: self.reserve(model))
        host = lease.key
        stream.host = host
        response: Any = None
        try:
            request: dict[str, Any] = {
                "model": model, "messages": ollama_messages(messages), "stream": True,
                "options": ollama_options(options),
            }
            keep_alive = keep_alive_value(self.settings.keep_alive)
            if keep_alive is not None:
                request["keep_alive"] = keep_alive
            if schema is not None:
                request["format"] = schema
            if tools:
                request["tools"] = tools
            try:
                response = await self._connections(host).request(
                    "POST", "api/chat", json.dumps(request, ensure_ascii=False).encode())
                if response.status >= 400:
                    raise StatusError.of(response, await response.read_text(64 * 1024))
            except Exception as exc:
                raise self._fault(exc, host, model) from None
            lines = bounded_lines(response.iter_text(),
                                  self.settings.max_answer_bytes + LINE_SLACK, host)
            final: dict[str, Any] | None = None
            while final is None:
                try:
                    line = await lines.__anext__()
                    if not line.strip():
                        continue
                    part = _chat_part(line)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    raise self._fault(exc, host, model, during="response stream") from None
                message = part.get("message") or {}
                text = message.get("content")
                if text:
                    lease.first_token()
                    yield TextChunk(text)
                for number, call in enumerate(message.get("tool_calls") or []):
                    function = (call.get("function") or {}) if isinstance(call, dict) else {}
                    function = function if isinstance(function, dict) else {}
                    arguments = function.get("arguments") or {}
                    yield ToolCallChunk(str(function.get("name") or ""), arguments
                                        if isinstance(arguments, str) else json.dumps(arguments),
                                        f"call_{number}")
                if part.get("done"):
                    final = part
            if final is None:
                raise BackendError(f"the stream from {host} ended before Ollama said done "
                                   "(cut short)", host=host, transient=True)
            yield self._done(final, host)
            await drain(lines)  # to the body's end, so the connection is kept for the next
        except BackendError as exc:
            lease.fail(exc)
            raise
        finally:
            if own:
                lease.release()
            if response is not None:
                await response.aclose()

    @staticmethod
    def _done(final: dict[str, Any], host: str) -> Done:
        load_ms = ns_to_ms(final.get("load_duration"))
        reason = final.get("done_reason")
        return Done(
            prompt_tokens=final.get("prompt_eval_count"),  # missing: cached/unknown, not zero
            completion_tokens=final.get("eval_count"),
            load_ms=load_ms,
            prompt_eval_ms=ns_to_ms(final.get("prompt_eval_duration")),
            eval_ms=ns_to_ms(final.get("eval_duration")),
            total_ms=ns_to_ms(final.get("total_duration")),
            done_reason=reason,
            host=host,
            extra={"paid_load": paid_load(load_ms, reason),
                   "paid_load_rule": f"load_duration > {PAID_LOAD_MS:g} ms",
                   "counters": "reported"},
        )


def _details(entry: dict[str, Any]) -> dict[str, Any]:
    details = entry.get("details")
    return details if isinstance(details, dict) else {}


def _listed_models(listing: Any) -> list[dict[str, Any]]:
    """``/api/tags``'s entries; ``TypeError`` when the answer is not a model listing."""
    models = listing.get("models") if isinstance(listing, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise TypeError("api/tags did not answer a list of models")
    return models


def _chat_part(line: str) -> dict[str, Any]:
    """One line of ``/api/chat``'s stream, checked for the shape every Ollama chunk has;
    an ``error`` line (the runner crashed, ran out of memory) raises as Ollama's own client
    does. ``ValueError``/``TypeError`` say the data is not an Ollama answer."""
    part = json.loads(line)
    if not isinstance(part, dict):
        raise TypeError(f"a stream line is not a JSON object: {line[:120]!r}")
    if part.get("error"):
        raise StatusError(json.dumps({"error": part["error"]}))
    message = part.get("message")
    if message is not None and not isinstance(message, dict):
        raise TypeError(f"'message' is not an object: {line[:120]!r}")
    if message is not None:
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise TypeError(f"'message.content' is not text: {line[:120]!r}")
        calls = message.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise TypeError(f"'message.tool_calls' is not a list: {line[:120]!r}")
    if not isinstance(part.get("done", False), bool):
        raise TypeError(f"'done' is not true or false: {line[:120]!r}")
    for key in ("load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
                "eval_duration", "total_duration"):
        value = part.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{key!r} is not a whole number: {line[:120]!r}")
    return part


def _stale(listed_at: float | None, now: float) -> bool:
    """A host's model list is stale when never read, or read too long ago."""
    return listed_at is None or now - listed_at > REDISCOVER_AFTER_S
