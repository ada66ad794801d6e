"""The OpenAI-compatible backend: any server that speaks ``/v1/chat/completions``.

OpenAI itself, vLLM, llama.cpp's and llama-cpp-python's servers, LM Studio, OpenRouter... The
stream is read as server-sent events, line by line. Servers that send no usage (llama-cpp-python
sends none, even when asked) get counted instead: completion tokens are the content chunks
(these servers send one per sampled token) and prompt tokens are estimated from the text;
``Done.extra`` says which figures were reported and which were counted or estimated.

Like every backend, faults leave as ``BackendError`` naming the server and saying whether a
retry may help; the engine retries, never this module.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
START_SLOTS = 32
"""Requests an OpenAI-compatible server is first given at once. Such servers batch (vLLM,
llama.cpp's server with ``--parallel``) and say nothing of their capacity, so the slots are then
probed up or down from here (see ``AdaptiveLimit``)."""
CAPACITY_HINT_TIMEOUT_S = 3.0
"""Longest wait for a server's ``/props`` before its slots are probed instead."""
TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
CHARS_PER_TOKEN = 4
"""Prompt-token estimate when the server reports no usage: ~4 characters of English a token..."""
TOKENS_PER_MESSAGE = 4
"""...plus the chat template's framing of each message (role markers, separators)."""

_DONE = object()


def api_base(url: str | None) -> str:
    """The ``/v1`` root, whether or not the configured URL already ends in ``/v1``."""
    text = (url or DEFAULT_BASE_URL).strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    if not re.search(r"/v\d+$", text):
        text = f"{text}/v1"
    return text


def is_local(url: str) -> bool:
    """Loopback servers run one generation at a time; measuring them in parallel only adds
    queueing to the timings."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def estimate_prompt_tokens(messages: list[Message]) -> int:
    chars = sum(len(m.get("content") or "") for m in messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)


def parse_sse_line(line: str) -> Any:
    """One line of an event stream: a JSON object for ``data: {...}``, ``_DONE`` for
    ``data: [DONE]``, ``None`` for lines that carry nothing (blank, comments, ``event:``,
    ``id:``, ``retry:``). Raises ``ValueError`` for anything else."""
    text = line.rstrip("\r")
    if not text.strip() or text.startswith(":"):
        return None
    fieldname, sep, value = text.partition(":")
    if not sep:
        raise ValueError(f"not a server-sent event line: {text[:120]!r}")
    if value.startswith(" "):
        value = value[1:]
    if fieldname in ("event", "id", "retry"):
        return None
    if fieldname != "data":
        raise ValueError(f"unknown server-sent event field {fieldname!r}")
    if value.strip() == "[DONE]":
        return _DONE
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"data line is not JSON ({exc.msg}): {value[:120]!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"data line is not a JSON object: {value[:120]!r}")
    return data


def _error_text(body: str) -> str:
    """The human part of an error body: OpenAI's ``error.message``, FastAPI's ``detail``."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return body.strip()[:300] or "no detail"
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)[:300]
        if isinstance(error, list):  # FastAPI validation errors
            error = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e)
                              for e in error)
        if error:
            return str(error)[:300]
    return body.strip()[:300] or "no detail"


class ToolCallAssembler:
    """Streamed ``delta.tool_calls`` pieces, joined by ``index`` into whole calls.

    The first piece of a call carries its ``id`` and ``function.name``; later pieces append to
    ``function.arguments``. Servers that send each call whole fit the same shape.
    """

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, pieces: Any) -> None:
        if not isinstance(pieces, list):
            return
        for position, piece in enumerate(pieces):
            if not isinstance(piece, dict):
                continue
            index = piece.get("index", position)
            call = self._calls.setdefault(index if isinstance(index, int) else position,
                                          {"id": "", "name": "", "arguments": ""})
            if piece.get("id"):
                call["id"] = str(piece["id"])
            function = piece.get("function") or {}
            if isinstance(function, dict):
                if function.get("name"):
                    call["name"] += str(function["name"])
                arguments = function.get("arguments")
                if isinstance(arguments, (dict, list)):  # a server that sends parsed JSON
                    arguments = json.dumps(arguments)
                if arguments:
                    call["arguments"] += str(arguments)

    def calls(self) -> list[ToolCallChunk]:
        return [ToolCallChunk(c["name"], c["arguments"], c["id"] or f"call_{i}")
                for i, c in sorted(self._calls.items())]


def schema_name(schema: dict[str, Any]) -> str:
    """``json_schema.name`` must match ``^[a-zA-Z0-9_-]{1,64}$``."""
    title = str(schema.get("title") or "response")
    return re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64] or "response"


class OpenAIBackend:
    """An OpenAI-compatible server from ``Settings.openai_base_url`` (OpenAI's API by default)."""

    name = "openai"
    # Such servers load their model when they start, and a hosted API has no cold load: a
    # warmup call would only cost a request (and money).
    needs_warmup = False

    def __init__(self, settings: Settings | None = None, *, base_url: str | None = None,
                 hosts: HostPool | None = None) -> None:
        self.settings = settings or Settings()
        self.base_url = api_base(base_url or self.settings.openai_base_url)
        self.pool = hosts or HostPool()
        self.pool.add(self.base_url, slots=START_SLOTS, adaptive=True)
        self._http: Http1Pool | None = None  # keep-alive connections, for one event loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._schema_mode: dict[str, str] = {}  # model -> "json_object" once json_schema failed
        self._hint: asyncio.Task[None] | None = None  # asking the server for its capacity
        self._hint_loop: asyncio.AbstractEventLoop | None = None

    @property
    def default_concurrency(self) -> int:
        return self.pool.capacity([self.base_url])

    def host_keys(self) -> list[str]:
        return [self.base_url]

    async def reserve(self, model: str) -> Lease:
        """A slot on this server (waits while every slot is busy)."""
        await self.learn_capacity()
        return await self.pool.acquire([self.base_url])

    async def learn_capacity(self) -> None:
        """Once per event loop, before the first request: llama.cpp's server says how many
        requests it serves at once (``GET /props``, ``total_slots``), and its slots are then
        that many instead of probed, so no cell waits in its queue while the probe looks for
        the number. Other servers do not answer it and are probed as before."""
        if self.capacity_learned():
            return
        loop = asyncio.get_running_loop()
        if self._hint is None or self._hint_loop is not loop:
            self._hint, self._hint_loop = loop.create_task(self._ask_capacity()), loop
        await asyncio.shield(self._hint)

    def capacity_learned(self) -> bool:
        """The question of ``learn_capacity`` was answered (or given up) in this loop."""
        return (self._hint is not None and self._hint.done()
                and self._hint_loop is asyncio.get_running_loop())

    async def _ask_capacity(self) -> None:
        if self.base_url == DEFAULT_BASE_URL:
            return  # OpenAI's own API: no such endpoint, and a request costs
        try:
            client = self._client()
            async with asyncio.timeout(CAPACITY_HINT_TIMEOUT_S):
                # Beside /v1, not under it (``http://host/llama/v1`` -> ``/llama/props``).
                root = client.target.prefix.removesuffix("/v1")
                response, body = await client.fetch("GET", f"{root}/props", limit=256 * 1024)
            slots = json.loads(body).get("total_slots") if response.status == 200 else None
        except Exception:  # noqa: BLE001 - no hint: the slots are probed
            return
        if isinstance(slots, int) and not isinstance(slots, bool) and slots >= 1:
            self.pool.set_slots(self.base_url, slots, adaptive=self.settings.adaptive)

    # ---- the HTTP client (bound to the loop it was made in)

    def _require_key(self) -> None:
        """OpenAI's own API without a key cannot work: say the key is missing, before a
        connection error (offline) or a 401 hides the real cause."""
        if self.base_url == DEFAULT_BASE_URL and not self.settings.openai_api_key:
            raise BackendError(
                f"no OpenAI API key: set OPENAI_API_KEY or --openai-api-key for {self.base_url}, "
                "or --openai-base-url for a local OpenAI-compatible server", host=self.base_url)

    def _client(self) -> Http1Pool:
        """The server's connection pool, made once per event loop (connections of a loop
        that has finished cannot be used)."""
        self._require_key()
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            headers = {"Accept": "application/json"}
            if self.settings.openai_api_key:
                headers["Authorization"] = f"Bearer {self.settings.openai_api_key}"
            read = max(self.settings.request_timeout_s, self.settings.stall_timeout_s)
            try:
                self._http = Http1Pool(self.base_url, headers=headers,
                                       connect_timeout=min(CONNECT_TIMEOUT_S, read),
                                       read_timeout=read, proxy=proxy_for(self.base_url))
            except HttpFault as exc:
                raise BackendError(f"cannot use {self.base_url}: {exc}",
                                   host=self.base_url) from None
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        http, self._http = self._http, None
        try:
            if http is None or asyncio.get_running_loop() is not self._loop:
                return
        except RuntimeError:  # pragma: no cover - called outside a loop
            return
        await http.aclose()

    # ---- faults

    def _fault(self, exc: BaseException, during: str) -> BackendError:
        host = self.base_url
        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, ConnectFault):
            return BackendError(f"cannot connect to {host} (is the server running?): {exc}",
                                host=host, transient=True)
        if isinstance(exc, TimeoutFault):
            return BackendError(f"{host} timed out during the {during} ({exc})",
                                host=host, transient=True)
        if isinstance(exc, (ClosedFault, ProtocolFault)):
            return BackendError(f"connection to {host} was cut during the {during}: "
                                f"{exc or type(exc).__name__}", host=host, transient=True)
        if isinstance(exc, (HttpFault, OSError)):
            return BackendError(f"network error talking to {host}: {exc or type(exc).__name__}",
                                host=host, transient=True)
        return BackendError(f"unexpected error from {host}: {type(exc).__name__}: {exc}",
                            host=host)

    def _status_fault(self, response: Response, body: str, model: str | None,
                      during: str) -> BackendError:
        host, status = self.base_url, response.status
        detail = _error_text(body)
        if status in (401, 403):
            return BackendError(
                f"{host} refused the API key (HTTP {status}: {detail}); set --openai-api-key "
                "or OPENAI_API_KEY", host=host)
        if status == 404:
            what = f"model {model!r}" if model else "the endpoint"
            return BackendError(f"{what} not found at {host} (HTTP 404: {detail})", host=host)
        if status in TRANSIENT_STATUS or status >= 500:
            return BackendError(f"{host} answered HTTP {status} during the {during} ({detail})",
                                host=host, transient=True,
                                retry_after=parse_retry_after(response.headers.get("retry-after")),
                                overloaded=status in (429, 503, 529))
        return BackendError(f"{host} rejected the {during}: HTTP {status} ({detail})", host=host)

    def _stream_error(self, error: Any) -> BackendError:
        """An ``{"error": ...}`` object sent inside the stream."""
        if isinstance(error, dict):
            message = str(error.get("message") or json.dumps(error)[:300])
            code, kind = error.get("code"), str(error.get("type") or "")
        else:
            message, code, kind = str(error), None, ""
        try:
            status = int(code) if code is not None else None
        except (TypeError, ValueError):
            status = None
        transient = (status is not None and (status in TRANSIENT_STATUS or status >= 500)) or \
            kind in ("server_error", "overloaded_error", "rate_limit_error", "timeout")
        return BackendError(f"{self.base_url} reported an error mid-stream: {message}",
                            host=self.base_url, transient=transient)

    @staticmethod
    def _rejects_json_schema(status: int, text: str) -> bool:
        """A 400/422, or any error that names the format (llama-cpp-python answers 500 to a
        request its validation refuses): worth one more try with ``json_object``."""
        if status in (400, 422):
            return True
        if status in (401, 403, 404, 429):
            return False
        return "response_format" in text or "json_schema" in text

    # ---- discovery

    async def list_models(self) -> list[ModelInfo]:
        """``GET /v1/models``; llama.cpp's ``meta`` (context, parameters, size) when present."""
        client = self._client()
        try:
            async with asyncio.timeout(min(DISCOVERY_TIMEOUT_S, self.settings.request_timeout_s)):
                response, body = await client.fetch("GET", "models",
                                                    limit=self.settings.max_answer_bytes)
        except TimeoutError:
            raise BackendError(f"{self.base_url} did not list its models in time",
                               host=self.base_url, transient=True) from None
        except Exception as exc:
            raise self._fault(exc, "model listing") from None
        text = body.decode("utf-8", "replace")
        if response.status >= 400:
            raise self._status_fault(response, text, None, "model listing")
        try:
            data = json.loads(text)
            items = data["data"] if isinstance(data, dict) else data
            infos = []
            for item in items:
                meta = item.get("meta") or {}
                params = meta.get("n_params")
                infos.append(ModelInfo(
                    ref=f"openai:{item['id']}", backend="openai", name=str(item["id"]),
                    parameters_b=params / 1e9 if isinstance(params, (int, float)) else None,
                    size_bytes=meta.get("size") if isinstance(meta.get("size"), int) else None,
                    context_length=meta.get("n_ctx_train") or item.get("context_length"),
                    host=self.base_url))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackendError(f"malformed model list from {self.base_url}: {exc}",
                               host=self.base_url) from None
        return sorted(infos, key=lambda i: i.name)

    # ---- generation

    def _body(self, model: str, messages: list[Message], options: GenerationOptions,
              schema: dict[str, Any] | None, mode: str,
              tools: list[Tool] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": options.temperature, "max_tokens": options.max_tokens,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop:
            body["stop"] = list(options.stop)
        if tools:
            body["tools"] = tools
        if schema is not None:
            if mode == "json_schema":
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": schema_name(schema), "schema": schema, "strict": True}}
            else:  # llama-cpp-python and others: JSON mode constrained by the schema
                body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def chat(self, model: str, messages: list[Message], options: GenerationOptions, *,
             schema: dict[str, Any] | None = None,
             tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """Stream a chat completion; ``schema`` asks for JSON Schema output, falling back to
        ``json_object`` with the schema when the server rejects ``json_schema``; ``tools`` are
        sent as they are and streamed ``tool_calls`` come back whole as ``ToolCallChunk``."""
        return HostStream(lambda stream: self._chat(stream, model, messages, options, schema,
                                                    tools))

    def chat_on(self, lease: Lease, model: str, messages: list[Message],
                options: GenerationOptions, schema: dict[str, Any] | None = None,
                tools: list[Tool] | None = None) -> AsyncIterator[Chunk]:
        """``chat`` on a slot someone else took (and will give back)."""
        return HostStream(lambda stream: self._chat(stream, model, messages, options, schema,
                                                    tools, lease))

    async def _chat(self, stream: HostStream, model: str, messages: list[Message],
                    options: GenerationOptions, schema: dict[str, Any] | None,
                    tools: list[Tool] | None = None,
                    given: Lease | None = None) -> AsyncIterator[Chunk]:
        stream.host = self.base_url
        lease, own = await lease_for_call(self.base_url.__eq__, lambda: self.reserve(model),
                                          given)
        try:
            async for chunk in self._chat_on(model, messages, options, schema, tools, lease):
                yield chunk
        except BackendError as exc:
            lease.fail(exc)
            raise
        finally:
            if own:
                lease.release()

    async def _chat_on(self, model: str, messages: list[Message], options: GenerationOptions,
                       schema: dict[str, Any] | None, tools: list[Tool] | None,
                       lease: Lease) -> AsyncIterator[Chunk]:
        client = self._client()
        mode = self._schema_mode.get(model, "json_schema")
        started = time.perf_counter()
        while True:
            body = json.dumps(self._body(model, messages, options, schema, mode, tools),
                              ensure_ascii=False).encode()
            try:
                response = await client.request("POST", "chat/completions", body)
            except Exception as exc:
                raise self._fault(exc, "request") from None
            try:
                if response.status >= 400:
                    try:
                        text = await response.read_text(64 * 1024)
                    except HttpFault:
                        text = ""
                    if schema is not None and mode == "json_schema" and \
                            self._rejects_json_schema(response.status, text):
                        mode = "json_object"
                        continue
                    raise self._status_fault(response, text, model, "request")
                if schema is not None and mode == "json_object":
                    self._schema_mode[model] = mode
                async for chunk in self._read(response, messages, options, started, mode):
                    if isinstance(chunk, TextChunk):
                        lease.first_token()
                    yield chunk
                return
            finally:
                await response.aclose()

    async def _read(self, response: Response, messages: list[Message],
                    options: GenerationOptions, started: float,
                    mode: str) -> AsyncIterator[Chunk]:
        host = self.base_url
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            # A server that ignored ``stream: true``: one whole completion.
            try:
                data = json.loads(await response.read(self.settings.max_answer_bytes + 1))
                text = data["choices"][0]["message"].get("content") or ""
                whole_finish = data["choices"][0].get("finish_reason")
                whole = ToolCallAssembler()
                whole.add(data["choices"][0]["message"].get("tool_calls"))
            except HttpFault as exc:
                raise self._fault(exc, "response") from None
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise BackendError(f"malformed completion from {host}: {exc}",
                                   host=host) from None
            if text:
                yield TextChunk(text)
            for call in whole.calls():
                yield call
            yield self._done(data.get("usage"), 1 if text else 0, messages, started,
                             None, whole_finish, mode)
            return
        pieces = 0
        first: float | None = None
        finish: str | None = None
        usage: dict[str, Any] | None = None
        saw_done = False
        calls = ToolCallAssembler()
        lines = bounded_lines(response.iter_text(), self.settings.max_answer_bytes + LINE_SLACK,
                              host)
        while True:
            try:
                line = await lines.__anext__()
            except StopAsyncIteration:
                break
            except Exception as exc:
                raise self._fault(exc, "response stream") from None
            try:
                event = parse_sse_line(line)
            except ValueError as exc:
                raise BackendError(f"malformed event stream from {host}: {exc}",
                                   host=host) from None
            if event is None:
                continue
            if event is _DONE:
                saw_done = True
                break
            if "error" in event:
                raise self._stream_error(event["error"])
            if isinstance(event.get("usage"), dict):
                usage = event["usage"]
            choices = event.get("choices") or []
            if not choices:
                continue
            choice = choices[0] if isinstance(choices[0], dict) else {}
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(delta, dict) and delta.get("tool_calls"):
                if first is None:
                    first = time.perf_counter()
                pieces += 1
                calls.add(delta["tool_calls"])
            if text:
                if first is None:
                    first = time.perf_counter()
                pieces += 1
                yield TextChunk(str(text))
            finish = choice.get("finish_reason") or finish
        if not saw_done and finish is None:
            raise BackendError(f"the stream from {host} ended before the server said it was "
                               "done (cut short)", host=host, transient=True)
        for call in calls.calls():
            yield call
        yield self._done(usage, pieces, messages, started, first, finish, mode)
        if saw_done:
            await drain(lines)


    def _done(self, usage: dict[str, Any] | None, pieces: int, messages: list[Message],
              started: float, first: float | None, finish: str | None, mode: str) -> Done:
        ended = time.perf_counter()
        extra: dict[str, Any] = {"paid_load": None, "timing": "client"}
        reported_prompt = (usage or {}).get("prompt_tokens")
        reported_completion = (usage or {}).get("completion_tokens")
        if isinstance(reported_prompt, int):
            prompt_tokens, extra["prompt_tokens"] = reported_prompt, "reported"
        else:
            prompt_tokens, extra["prompt_tokens"] = estimate_prompt_tokens(messages), "estimated"
        if isinstance(reported_completion, int):
            completion, extra["completion_tokens"] = reported_completion, "reported"
        else:
            completion, extra["completion_tokens"] = pieces, "counted"
        if mode == "json_object":
            extra["response_format"] = "json_object"
        cost = None
        price_in, price_out = self.settings.price_in_per_m, self.settings.price_out_per_m
        if price_in is not None or price_out is not None:
            cost = (prompt_tokens * (price_in or 0.0) + completion * (price_out or 0.0)) / 1e6
            extra["cost"] = ("reported tokens" if extra["prompt_tokens"] == "reported"
                             and extra["completion_tokens"] == "reported" else "estimated tokens")
        return Done(
            prompt_tokens=prompt_tokens, completion_tokens=completion, load_ms=None,
            prompt_eval_ms=None,
            eval_ms=(ended - first) * 1000 if first is not None else None,
            total_ms=(ended - started) * 1000, done_reason=finish, host=self.base_url,
            cost=cost, extra=extra)
