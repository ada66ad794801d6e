"""Run a batch: stream every cell from its backend, score it, commit it, tell the listeners.

The runner is the heart of tui-bench and knows nothing of screens or terminals: front ends
pass an event sink and read the store. Each cell is committed the moment it finishes, so an
interrupted batch resumes with ``resume=True`` and skips exactly the cells already stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tui_bench.backends import (
    BackendError,
    BackendPool,
    Done,
    TextChunk,
    Tool,
    ToolCallChunk,
    current_lease,
)
from tui_bench.catalog import Catalog
from tui_bench.domain import (
    BatchSpec,
    Cell,
    EvaluatorSpec,
    GenerationOptions,
    ModelRef,
    RunRecord,
    Scenario,
    Telemetry,
    utc_now,
)
from tui_bench.engine.cache import cache_key, model_digest
from tui_bench.engine.environment import Warmer, host_facts, tool_version
from tui_bench.engine.events import (
    BatchFinished,
    BatchStarted,
    CellFinished,
    CellRetrying,
    CellRunning,
    Event,
    EventSink,
    Token,
    ignore,
)
from tui_bench.engine.lease import BatchLease
from tui_bench.engine.limits import CLIENT_CUT, StreamBudget, WaitTimer
from tui_bench.engine.modes import CellSession, Generation, mode_for, sum_telemetry
from tui_bench.engine.plan import cell_options, new_run_id, normalise_spec, plan
from tui_bench.settings import Settings
from tui_bench.store import Store

log = logging.getLogger(__name__)

PersonaResolver = Callable[[str], str]
DEFAULT_WORKERS = 4
"""Cells at once on a backend that does not spread over hosts (and says nothing itself)."""
__all__ = ["BatchResult", "Generation", "Runner"]


@dataclass
class BatchResult:
    batch_id: str
    status: str
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    run_ids: list[str] = field(default_factory=list)


def _truncated(tel: Telemetry, options: GenerationOptions, ref: ModelRef) -> bool | None:
    """Prompt plus answer reached the context size (where the backend honours ``num_ctx``)."""
    if ref.backend not in ("embedded", "ollama"):
        return None
    if tel.prompt_tokens is None or tel.completion_tokens is None:
        return None
    return tel.prompt_tokens + tel.completion_tokens >= options.num_ctx


class Runner:
    """Runs batches against a store. One runner per event loop (its backends are bound to it)."""

    def __init__(self, store: Store, catalog: Catalog, *, pool: BackendPool | None = None,
                 settings: Settings | None = None, on_event: EventSink = ignore,
                 persona: PersonaResolver | None = None,
                 scorer: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings or (pool.settings if pool else Settings.from_env())
        self.pool = pool or BackendPool(self.settings)
        self.on_event = on_event
        self.persona = persona
        self._scorer = scorer
        self._cancelled = False
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._cancelled_runs: set[str] = set()
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._judge: Any = None
        self._last_cancelled: dict[str, RunRecord] = {}
        self._warmer = Warmer()
        self._deadlines: dict[str, float] = {}  # run id -> monotonic end of the cell
        self.lease_options: dict[str, float] = {}  # heartbeat_s, stale_after_s (tests)
        self._digests: dict[str, str | None] = {}  # model -> digest, for the response cache
        # Scenario definition hashes of the batch under way, by scenario object: hashing
        # serialises the whole definition, the same for every cell of a scenario.
        self._hashes: dict[int, tuple[Scenario, str]] = {}
        self._judged_copies: dict[int, tuple[Scenario, Scenario]] = {}

    # ---- control

    def cancel(self) -> None:
        """Stop the batch: running cells are recorded as cancelled, queued ones are left."""
        self._cancelled = True
        for task in list(self._tasks.values()):
            task.cancel()

    def cancel_cell(self, run_id: str) -> bool:
        task = self._tasks.get(run_id)
        if task is None:
            return False
        self._cancelled_runs.add(run_id)
        task.cancel()
        return True

    def _emit(self, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception:  # a broken listener must never lose a result
            log.exception("event listener failed on %s", type(event).__name__)

    # ---- the batch

    async def run(self, spec: BatchSpec, *, resume: bool = False) -> BatchResult:
        """Run (or finish) a batch. Every finished cell is in the store before this returns."""
        spec = normalise_spec(spec)
        self._check(spec)
        cells = plan(spec)
        lease = BatchLease(self.store, spec.batch_id, **self.lease_options)
        lease.acquire()  # one batch, one runner: a second one refuses here (LeaseHeld)
        try:
            # A batch id seen before keeps its finished cells, whether or not resume was asked.
            finished = self.store.finished_cell_keys(spec.batch_id)
            todo = [c for c in cells if c.key not in finished]
            self.store.save_batch(spec, len(cells))
            self._warmer = Warmer(enabled=spec.model_warmup)
            self._hashes, self._judged_copies = {}, {}
            self.store.save_batch_environment(spec.batch_id, tool_version(), host_facts(), {})
        except BaseException:
            lease.release()
            raise
        lease.keep_alive(self.cancel)
        result = BatchResult(batch_id=spec.batch_id, status="running",
                             skipped=len(cells) - len(todo))
        self._emit(BatchStarted(spec.batch_id, len(cells), result.skipped, list(spec.models)))
        started = time.perf_counter()
        self._cancelled = False
        self._judge = self._make_judge(spec) if spec.judge else None
        self.pool.hosts.set_fixed_slots(spec.concurrency)

        async def one(cell: Cell) -> None:
            record = await self._run_cell_guarded(spec, cell)
            if record is None:
                return
            result.run_ids.append(record.run_id)
            if record.status == "ok":
                result.done += 1
            elif record.status == "cancelled":
                result.cancelled += 1
            else:
                result.failed += 1

        try:
            await self._dispatch(spec, todo, one)
        except asyncio.CancelledError:
            # The task running the batch was cancelled (an app closing): that is a cancel,
            # not a finished batch, so it stays resumable.
            self._cancelled = True
            raise
        finally:
            lease.release()
            result.elapsed_s = time.perf_counter() - started
            result.status = "cancelled" if self._cancelled else "finished"
            if result.status == "finished" and todo and result.failed == len(todo):
                result.status = "failed"  # every cell errored: nothing here "finished"
            if self._warmer.warmups:
                self.store.save_batch_environment(spec.batch_id, tool_version(), host_facts(),
                                                  self._warmer.warmups)
            self.store.set_batch_status(spec.batch_id, result.status)
            self._emit(BatchFinished(spec.batch_id, result.done, result.failed,
                                     result.cancelled, result.elapsed_s, result.status))
        return result

    async def _dispatch(self, spec: BatchSpec, todo: list[Cell],
                        one: Callable[[Cell], Any]) -> None:
        """Start cells in plan order (model-major), each when its backend has room: as many
        as its hosts have slots now, plus a few so scoring overlaps the next generation."""
        changed = asyncio.Event()
        running: dict[str, int] = {}
        tasks: set[asyncio.Task[Any]] = set()
        stop_listening = self.pool.hosts.on_change(changed.set)

        def finished(task: asyncio.Task[Any], backend: str) -> None:
            running[backend] -= 1
            tasks.discard(task)
            changed.set()

        try:
            for cell in todo:
                backend = cell.model.split(":", 1)[0]
                while not self._cancelled and running.get(backend, 0) >= self._room(backend,
                                                                                   spec):
                    changed.clear()
                    await changed.wait()
                if self._cancelled:
                    break
                running[backend] = running.get(backend, 0) + 1
                task = asyncio.create_task(one(cell))
                tasks.add(task)
                task.add_done_callback(lambda t, b=backend: finished(t, b))  # type: ignore[misc]
            while tasks:
                await asyncio.gather(*list(tasks))
        except asyncio.CancelledError:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*list(tasks), return_exceptions=True)
            raise
        finally:
            stop_listening()

    def _room(self, backend: str, spec: BatchSpec) -> int:
        """Cells of a backend worth having under way: its hosts' slots and, unless ``-j`` set
        them, as many again: every slot a finished cell gives back goes at once to a cell
        already waiting for it, so the next request is on the wire while the finished cell is
        scored and stored (with fewer waiting, a server's slots idle through that work each
        time a round of answers comes in together)."""
        try:
            made = self.pool.get(backend)
        except BackendError:
            return 1  # its cells fail with the reason; no need to run more of them at once
        capacity = self.pool.capacity(backend)
        slots = capacity if capacity is not None else (
            spec.concurrency or int(getattr(made, "default_concurrency", DEFAULT_WORKERS)))
        if spec.concurrency is not None:
            return slots  # -j N: exactly N at once per host
        return slots * 2

    def _check(self, spec: BatchSpec) -> None:
        """Refuse a batch that cannot run before anything is stored."""
        for model in spec.models:
            ModelRef.parse(model)
        missing = [s for s in spec.scenarios if self.catalog.scenario(s) is None]
        if missing:
            raise ValueError(f"unknown scenario(s): {', '.join(missing)}")
        if any(spec.specialists) and self.persona is None:
            raise ValueError("specialist cells need templates, but no template resolver was given")

    def _make_judge(self, spec: BatchSpec) -> Any:
        from tui_bench.scoring import BackendJudge

        ref = ModelRef.parse(spec.judge or "")
        backend, name = self.pool.for_model(ref)
        options = GenerationOptions(temperature=0.0, seed=spec.options.seed, max_tokens=512,
                                    num_ctx=max(spec.options.num_ctx, 4096))
        return BackendJudge(backend, name, str(ref), options)

    def _semaphore(self, backend_name: str, default: int, spec: BatchSpec) -> asyncio.Semaphore:
        if backend_name not in self._semaphores:
            self._semaphores[backend_name] = asyncio.Semaphore(spec.concurrency or default)
        return self._semaphores[backend_name]

    async def _run_cell_guarded(self, spec: BatchSpec, cell: Cell) -> RunRecord | None:
        """Run one cell in a task of its own, so cancelling it never cancels the worker."""
        run_id = new_run_id()
        task = asyncio.create_task(self._run_cell(spec, cell, run_id), name=run_id)
        self._tasks[run_id] = task
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() or task.done():
                # Our own cancel (a cell or the batch): the record was written in _run_cell.
                return self._last_cancelled.pop(run_id, None)
            # The worker itself was cancelled from outside: stop the cell, keep its record.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        finally:
            self._tasks.pop(run_id, None)
            self._cancelled_runs.discard(run_id)

    async def _run_cell(self, spec: BatchSpec, cell: Cell, run_id: str) -> RunRecord:
        scenario = self.catalog.scenario(cell.scenario_id)
        assert scenario is not None
        if self._judge is not None and not any(e.name == "llm_judge" for e in scenario.evaluators):
            scenario = self._judged(scenario)
        options = cell_options(spec, cell)
        if scenario.max_tokens and scenario.max_tokens < options.max_tokens:
            options = options.model_copy(update={"max_tokens": scenario.max_tokens})
        system = self.persona(cell.specialist) if cell.specialist and self.persona else None
        system = system or scenario.system_for(cell.prompt_version)
        prompt = scenario.prompt_for(cell.tier, cell.prompt_version)
        messages: list[dict[str, Any]] = (
            [{"role": "system", "content": system}] if system else [])
        messages.append({"role": "user", "content": prompt})
        mode = mode_for(scenario, spec)
        record = RunRecord(
            run_id=run_id, batch_id=cell.batch_id, model=cell.model,
            prompt_version=cell.prompt_version, scenario_id=cell.scenario_id, tier=cell.tier,
            specialist=cell.specialist, iteration=cell.iteration, prompt=prompt, system=system,
            scenario_hash=self._definition_hash(scenario), mode=mode.name,
            options_key=cell.options_key)
        session = CellSession(
            cell=cell, run_id=run_id, scenario=scenario, spec=spec, options=options,
            messages=messages, record=record, emit=self._emit, generate_fn=self._unbound,
            score_fn=self._score, settings=self.settings)
        try:
            ref = ModelRef.parse(cell.model)
            await self._refuse_oversized(ref)
            backend, name = self.pool.for_model(ref)
            if getattr(backend, "reserve", None) is None:  # no hosts: one limit per backend
                session.slot = self._semaphore(ref.backend, backend.default_concurrency, spec)
            else:
                session.host_slots = True
            if mode.name == "zero-shot":  # --cache: a stored generation instead of a model call
                session.cached = await self._cached(spec, cell, record, ref, backend, messages,
                                                    options)

            async def generate(msgs: list[dict[str, Any]], opts: GenerationOptions,
                               tools: list[Tool] | None,
                               schema: dict[str, Any] | None = None) -> Any:
                if not record.environment:  # the first call: warm the model up first
                    record.environment = await self._warmer.prepare(ref, backend, name, options)
                return await self._generate(cell, run_id, backend, name, msgs, opts, tools,
                                            schema, lambda: session.attempt)

            session.generate_fn = generate
            await mode.run(session)
            cuts = [_truncated(t, options, ref) for t in session.telemetry]
            if any(c is not None for c in cuts):
                record.truncated = any(bool(c) for c in cuts)
            record.status = "ok"
        except asyncio.CancelledError:
            record.status = "cancelled"
            record.error = "cancelled by the user"
            # A cell still queued for its backend when the batch stopped did nothing worth a
            # row: a resume runs it. One a person cancelled, or one that had begun, is kept.
            keep = session.began or run_id in self._cancelled_runs
            self._finish(session, mode.keeps_attempts, store=keep)
            if keep:  # a record never stored is neither counted nor reported
                self._last_cancelled[run_id] = record
            raise
        except BackendError as exc:
            record.status = "error"
            record.error = str(exc)
            record.retries += getattr(exc, "retries", 0)
        except Exception as exc:  # a bug must cost one cell, not the batch
            log.exception("cell %s failed", cell.label())
            record.status = "error"
            record.error = f"{type(exc).__name__}: {exc}"
        self._finish(session, mode.keeps_attempts)
        return record

    def _judged(self, scenario: Scenario) -> Scenario:
        """The judge grades every run; where the scenario did not ask for it, it informs but
        does not move the automatic score. One copy per scenario for the batch, not per cell."""
        known = self._judged_copies.get(id(scenario))
        if known is None or known[0] is not scenario:
            copy = scenario.model_copy(update={
                "evaluators": [*scenario.evaluators, EvaluatorSpec(name="llm_judge", weight=0)]})
            known = self._judged_copies[id(scenario)] = (scenario, copy)
        return known[1]

    def _definition_hash(self, scenario: Scenario) -> str:
        known = self._hashes.get(id(scenario))
        if known is None or known[0] is not scenario:
            known = self._hashes[id(scenario)] = (scenario, scenario.definition_hash())
        return known[1]

    @staticmethod
    async def _unbound(*_: Any) -> tuple[Generation, int]:
        raise BackendError("no backend was chosen for this cell")

    def _finish(self, session: CellSession, keeps_attempts: bool, *,
                store: bool = True) -> None:
        # Past this point the cell cannot be cancelled: a listener that cancels the batch on
        # CellFinished must not turn this finished cell into a cancelled one.
        record, attempts = session.record, session.attempts
        self._tasks.pop(record.run_id, None)
        self._deadlines.pop(record.run_id, None)
        record.attempts = max(len(attempts), 1)
        if session.telemetry:
            record.telemetry = sum_telemetry(session.telemetry)
        record.finished_at = utc_now()
        keep = attempts if len(attempts) > 1 or keeps_attempts else []
        if store:
            self.store.save_run(record, session.scenario, keep, session.judgments,
                                artifacts=session.artifacts)
        self._emit(CellFinished(record, stored=store))

    async def _cached(self, spec: BatchSpec, cell: Cell, record: RunRecord, ref: ModelRef,
                      backend: Any, messages: list[dict[str, str]],
                      options: GenerationOptions) -> dict[str, Any] | None:
        """With ``--cache`` (zero-shot cells): key the generation, return a stored one."""
        if not spec.cache or spec.mode != "zero-shot":
            return None
        if str(ref) not in self._digests:
            self._digests[str(ref)] = await model_digest(backend, ref)
        record.cache_key = cache_key(str(ref), self._digests[str(ref)], messages, options,
                                     cell.iteration)
        return self.store.cached_generation(record.cache_key)

    async def _refuse_oversized(self, ref: ModelRef) -> None:
        limit = self.settings.max_model_b
        if limit is None or ref.backend != "ollama":
            return
        size = getattr(self.pool.get("ollama"), "parameters_b", None)
        if callable(size):
            billions = await size(ref.name)
            if billions is not None and billions > limit:
                raise BackendError(
                    f"{ref} has {billions:g}B parameters, above --max-model-b {limit:g}")

    async def _score(self, scenario: Scenario, output: str, *, workspace: Any = None,
                     diff: str = "", changed_files: list[str] | None = None) -> Any:
        from tui_bench.scoring import ScoringContext, score

        ctx = ScoringContext(scenario=scenario, output=output,
                             rubric=self.catalog.rubric_for(scenario), judge=self._judge,
                             workspace=workspace, diff=diff,
                             changed_files=list(changed_files or []))
        return await (self._scorer or score)(ctx)

    # ---- one generation, with retries for transient faults

    async def _generate(self, cell: Cell, run_id: str, backend: Any, name: str,
                        messages: list[dict[str, Any]], options: GenerationOptions,
                        tools: list[Tool] | None = None,
                        schema: dict[str, Any] | None = None,
                        attempt: Callable[[], int] | None = None) -> tuple[Generation, int]:
        retries = 0
        while True:
            try:
                return await self._stream_once(run_id, backend, name, messages, options,
                                               tools, schema, attempt), retries
            except BackendError as exc:
                if not exc.transient or retries >= self.settings.max_retries:
                    if retries:
                        exc = BackendError(f"{exc} (after {retries} retries)", host=exc.host,
                                           transient=exc.transient)
                    exc.retries = retries  # type: ignore[attr-defined]
                    raise exc from None
                delay = exc.retry_after if exc.retry_after is not None else (
                    self.settings.retry_base_s * (2 ** retries))
                retries += 1
                self._emit(CellRetrying(cell, run_id, retries, str(exc), delay))
                await asyncio.sleep(delay)

    async def _stream_once(self, run_id: str, backend: Any, name: str,
                           messages: list[dict[str, Any]], options: GenerationOptions,
                           tools: list[Tool] | None = None,
                           schema: dict[str, Any] | None = None,
                           attempt: Callable[[], int] | None = None) -> Generation:
        """One request on a host slot taken first (waiting for a slot is not the server's
        silence); a host that failed while others are healthy is retried elsewhere at once."""
        reserve = getattr(backend, "reserve", None)
        if reserve is None:
            return await self._stream_on(run_id, backend, name, messages, options, tools,
                                         schema)
        lease = await reserve(name)
        # Holding a host slot: from here the cell is running (prefill first), not queued.
        self._emit(CellRunning(run_id, attempt() if attempt is not None else 1))
        token = current_lease.set(lease)
        try:
            result = await self._stream_on(run_id, backend, name, messages, options, tools,
                                           schema)
        except BackendError as exc:
            lease.fail(exc)
            lease.release()
            if exc.transient and exc.retry_after is None and lease.outcome == "failed" \
                    and lease.others_healthy():
                exc.retry_after = 0.0
            raise
        except asyncio.CancelledError:
            lease.outcome = "cancelled"
            raise
        finally:
            current_lease.reset(token)
            lease.release()
        # Let the cell waiting for this slot send its request before this one is scored and
        # stored: the server works while we do.
        await asyncio.sleep(0)
        return result

    async def _stream_on(self, run_id: str, backend: Any, name: str,
                         messages: list[dict[str, Any]], options: GenerationOptions,
                         tools: list[Tool] | None = None,
                         schema: dict[str, Any] | None = None) -> Generation:
        started = time.perf_counter()
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        if schema is not None:
            extra["schema"] = schema
        stream: AsyncIterator[Any] = backend.chat(name, messages, options, **extra)
        parts: list[str] = []
        calls: list[ToolCallChunk] = []
        done: Done | None = None
        ttft: float | None = None
        host = getattr(backend, "name", "backend")
        budget = self._budget(run_id, options)
        timer = WaitTimer()
        try:
            while True:
                limit = (self.settings.request_timeout_s if ttft is None
                         else self.settings.stall_timeout_s)
                limit, by_deadline = budget.wait_limit(limit)
                if by_deadline and limit <= 0:
                    budget.host = getattr(stream, "host", None) or host
                    raise budget.deadline_passed()
                try:
                    timer.arm(limit)
                    try:
                        chunk = await anext(stream)
                    except asyncio.CancelledError:
                        if timer.expired():
                            raise TimeoutError from None
                        raise
                    finally:
                        timer.disarm()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    budget.host = getattr(stream, "host", None) or host
                    if by_deadline:
                        raise budget.deadline_passed() from None
                    what = "no response" if ttft is None else "stream stalled"
                    # A backend's stream may say which server it was routed to.
                    raise BackendError(f"{what} for {limit:g}s",
                                       host=getattr(stream, "host", None) or host,
                                       transient=True) from None
                if isinstance(chunk, TextChunk):
                    if ttft is None and chunk.text:
                        ttft = (time.perf_counter() - started) * 1000
                    budget.host = getattr(stream, "host", None) or host
                    if budget.full and chunk.text:
                        # The server ignored max_tokens: stop reading, as it should have.
                        done = Done(completion_tokens=budget.pieces, done_reason=CLIENT_CUT,
                                    host=budget.host, extra={"client_cut": "max_tokens"})
                        break
                    parts.append(budget.take(chunk.text))
                    self._emit(Token(run_id, chunk.text))
                elif isinstance(chunk, ToolCallChunk):
                    calls.append(chunk)
                elif isinstance(chunk, Done):
                    done = chunk
        finally:
            timer.close()
            await stream.aclose()  # type: ignore[attr-defined]
        if done is None:
            raise BackendError("stream ended without its final counters (cut short)",
                               host=getattr(stream, "host", None) or host, transient=True)
        return Generation("".join(parts), done, ttft, (time.perf_counter() - started) * 1000,
                          calls)

    def _budget(self, run_id: str, options: GenerationOptions) -> StreamBudget:
        """This generation's limits; the deadline counts from the cell's first request."""
        seconds = self.settings.cell_deadline_s
        deadline = None
        if seconds is not None:
            deadline = self._deadlines.setdefault(run_id, time.monotonic() + seconds)
        return StreamBudget(max_pieces=options.max_tokens,
                            max_bytes=self.settings.max_answer_bytes,
                            deadline=deadline, deadline_s=seconds)
