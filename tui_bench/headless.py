"""The headless front end: a rich progress bar while a batch runs, tables when it ends.

It consumes the same engine events as the TUI. Everything it shows comes from the events and
the store; it never computes a score of its own.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tui_bench.analysis.summary import batch_summary, counted
from tui_bench.backends import BackendPool
from tui_bench.backends.hostpool import HostPool, slots_line
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, RunRecord
from tui_bench.engine.events import (
    BatchFinished,
    BatchStarted,
    CellFinished,
    CellRetrying,
    CellStarted,
    Event,
    EventSink,
    Token,
    ToolCalled,
)
from tui_bench.engine.runner import BatchResult, Runner
from tui_bench.present import duration, milliseconds, number, percent, rate, score
from tui_bench.store import Store


class ProgressPrinter:
    """Turns engine events into a live progress line with counts, elapsed time and tokens/s."""

    def __init__(self, console: Console, *, quiet: bool = False,
                 hosts: HostPool | None = None) -> None:
        self.console = console
        self.quiet = quiet
        self.hosts = hosts
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("ok {task.fields[ok]} · failed {task.fields[failed]} · "
                       "running {task.fields[running]}"),
            TextColumn("· {task.fields[tps]} tok/s"), TimeElapsedColumn(),
            TextColumn("{task.fields[slots]}", markup=False),
            console=console, transient=False, disable=quiet)
        self.task: Any = None
        self.running: set[str] = set()
        self.scenarios: dict[str, str] = {}  # run id -> scenario, to name an agent's tool calls
        self.ok = self.failed = 0
        self.tokens = 0
        self.started = time.perf_counter()
        self._last_refresh = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, BatchStarted):
            self.started = time.perf_counter()
            self.task = self.progress.add_task(
                event.batch_id, total=event.total, completed=event.skipped, ok=0, failed=0,
                running=0, tps="—", slots="")
            if event.skipped and not self.quiet:
                self.console.print(f"resuming: {event.skipped} of {event.total} cells already "
                                   "finished, not run again")
        elif isinstance(event, CellStarted):
            self.running.add(event.run_id)
            self.scenarios[event.run_id] = event.cell.scenario_id
            self._update()
        elif isinstance(event, Token):
            self.tokens += 0 if event.cached else 1
            now = time.perf_counter()
            if now - self._last_refresh > 0.25:
                self._last_refresh = now
                self._update()
        elif isinstance(event, ToolCalled):
            if not self.quiet:  # an agent cell at work: one dim line per call
                mark = f" [{event.problem}]" if event.problem else ""
                self.console.print(Text(
                    f"{self.scenarios.get(event.run_id, '')} turn {event.turn} · {event.tool}("
                    f"{event.arguments[:60]}){mark} → {event.result[:60]}", style="dim"),
                    highlight=False)
        elif isinstance(event, CellRetrying):
            if not self.quiet:
                self.console.print(f"[yellow]retry {event.retry}[/] {event.cell.label()}: "
                                   f"{event.reason} (waiting {duration(event.delay_s)})")
        elif isinstance(event, CellFinished):
            record = event.record
            self.running.discard(record.run_id)
            if not event.stored:
                pass
            elif record.status == "ok":
                self.ok += 1
            else:
                self.failed += 1
                if not self.quiet:
                    self.console.print(f"[red]{record.status}[/] {record.model} · "
                                       f"{record.scenario_id}: {record.error}")
            if self.task is not None:
                self.progress.advance(self.task)
            self._update()

    def _update(self) -> None:
        if self.task is None:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        slots = slots_line(self.hosts.status()) if self.hosts is not None else ""
        self.progress.update(self.task, ok=self.ok, failed=self.failed,
                             running=len(self.running), tps=f"{self.tokens / elapsed:.1f}",
                             slots=f"slots {slots}" if slots else "")


class JsonLinesPrinter:
    """One JSON line per finished cell and at the end, flushed at once: for scripts and CI."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        if isinstance(event, CellFinished) and not event.stored:
            return  # never stored: reporting it would name a run id no one can find
        if isinstance(event, CellFinished):
            r = event.record
            line = {"event": "cell_finished", "run_id": r.run_id, "model": r.model,
                    "scenario_id": r.scenario_id, "tier": r.tier, "iteration": r.iteration,
                    "status": r.status, "auto_score": r.auto_score, "success": r.success,
                    "error": r.error, "suspect": r.suspect, "cached": r.cached}
        elif isinstance(event, BatchStarted):
            line = {"event": "batch_started", "batch_id": event.batch_id, "total": event.total,
                    "skipped": event.skipped}
        elif isinstance(event, BatchFinished):
            line = {"event": "batch_finished", "batch_id": event.batch_id, "done": event.done,
                    "failed": event.failed, "status": event.status}
        else:
            return
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()


SHORT_NAMES = {"documentation": "docs", "error_handling": "errors",
               "expected_elements": "expect", "structure": "struct", "llm_judge": "judge"}


def results_table(runs: list[RunRecord], *, title: str) -> Table:
    # An evaluator that counted nowhere (a judge nobody configured) is left out, not a column
    # of "n/a"; names are short so model and scenario keep their room.
    evaluators = sorted({e.evaluator for r in runs for e in r.evaluations if counted(e.detail)})
    table = Table(title=title, title_justify="left")
    for name in ("model", "scenario"):
        table.add_column(name, no_wrap=True)
    # Baseline and specialist rows of one cell would otherwise read as duplicates.
    with_specialist = any(r.specialist for r in runs)
    if with_specialist:
        table.add_column("specialist", no_wrap=True)
    for name in ("tier", "score", "pass"):
        table.add_column(name, justify="right" if name == "score" else "left")
    for name in evaluators:
        table.add_column(SHORT_NAMES.get(name, name.replace("_", " ")), justify="right")
    for name in ("ttft", "tok/s", "duration"):
        table.add_column(name, justify="right")
    for run in runs:
        by_name = {e.evaluator: e for e in run.evaluations}
        if run.status != "ok":
            verdict = f"[red]{run.status}[/]"
        elif run.held_as_suspect:
            verdict = "[bold magenta]suspect[/]"
        elif run.success:
            verdict = "[green]pass[/]"
        else:
            verdict = "[yellow]fail[/]"
        if run.attempts > 1:
            verdict += f" ({run.attempts} tries)"
        if run.cached:
            verdict += " [cyan](cached)[/]"
        cells = [run.model, run.scenario_id]
        if with_specialist:
            cells.append(run.specialist or "—")
        cells += [run.tier, number(run.auto_score), verdict]
        for name in evaluators:
            e = by_name.get(name)
            if e is None:
                cells.append("")
            elif not counted(e.detail):
                cells.append("n/a")
            else:
                cells.append(f"{e.score:.2f}")
        tel = run.telemetry
        cells += [milliseconds(tel.ttft_ms), rate(tel.tokens_per_s), milliseconds(tel.total_ms)]
        table.add_row(*cells)
    return table


def print_report(console: Console, store: Store, batch_id: str, summary: dict[str, Any]) -> None:
    runs = store.runs(batch_id, limit=10_000, with_evaluations=True)
    console.print(results_table(runs, title=f"Results · {batch_id}"))
    s = summary["summary"]
    line = (f"{s['ok']} ok, {s['failed']} failed, {s['cancelled']} cancelled · "
            f"success rate {percent(s['success_rate'])} · "
            f"mean score {number(s['mean_score'])} · "
            f"{rate(s['mean_tokens_per_s'])} tok/s")
    console.print(line)
    comp = s.get("comparative")
    if comp:
        zero, final = comp["zero_shot"], comp["iterative"]
        console.print(
            f"iterating: success {percent(zero['success_rate'])} → "
            f"{percent(final['success_rate'])}, mean attempts "
            f"{number(final['attempts'])}, completion tokens "
            f"{zero['completion_tokens']} → {final['completion_tokens']}, "
            f"{comp['fixed_by_iterating']} cells fixed by iterating")
    for line in refine_lines(store, batch_id):
        console.print(line)
    if s.get("pass_at_k"):
        for model, values in s["pass_at_k"].items():
            console.print(f"{model}: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    flaky = s.get("flaky_cells")
    if flaky:
        console.print(f"{len(flaky)} flaky cell(s), passing some iterations and failing others:")
        for cell in flaky[:10]:
            where = f" [{cell['options_key']}]" if cell["options_key"] else ""
            console.print(f"  {cell['model']}{where} · {cell['scenario_id']} · {cell['tier']}: "
                          f"{cell['passes']} of {cell['iterations']} passed", highlight=False)
    for e in s.get("specialists", []):
        pct = "" if e["improvement_pct"] is None else f", {e['improvement_pct']:+.1f}%"
        change = "" if e["improvement"] is None else f" ({e['improvement']:+.3f}{pct})"
        console.print(f"specialist {e['specialist']}: baseline "
                      f"{score(e['baseline_avg_score'])} → "
                      f"{score(e['specialist_avg_score'])}{change} over "
                      f"{e['baseline_runs']} + {e['specialist_runs']} runs")
    console.print(f"batch id: [bold]{batch_id}[/]   (resume with --resume {batch_id})")


async def run_batch(spec: BatchSpec, *, store: Store, catalog: Catalog, pool: BackendPool,
                    console: Console, resume: bool = False, quiet: bool = False,
                    persona: Any = None, jsonl: Any = None,
                    listeners: Sequence[EventSink] = ()) -> BatchResult:
    """Run a batch with a progress bar; Ctrl+C stops it cleanly, keeping what finished."""
    printer = ProgressPrinter(console, quiet=quiet or jsonl is not None, hosts=pool.hosts)
    sinks: list[Any] = [printer] + ([JsonLinesPrinter(jsonl)] if jsonl is not None else [])
    sinks += listeners  # e.g. integrations.mlflow.MlflowListener

    def on_event(event: Event) -> None:
        for sink in sinks:
            sink(event)

    runner = Runner(store, catalog, pool=pool, on_event=on_event, persona=persona)
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_interrupt() -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        console.print("\n[yellow]stopping: finished cells are kept; "
                      f"resume with --resume {spec.batch_id}[/]")
        runner.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread
        pass
    try:
        with printer.progress:
            return await runner.run(spec, resume=resume)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        await pool.aclose()


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


__all__ = ["ProgressPrinter", "batch_summary", "print_report", "results_table", "run_batch",
           "write_json"]


def refine_lines(store: Store, batch_id: str) -> list[str]:
    """One line per model of a refine batch: its effort, collapse rate and quality change."""
    from tui_bench.analysis.effort import rows_by_level, rows_by_threshold

    outcomes = store.refine_outcomes([batch_id])
    targets: dict[tuple[str, str], float] = {
        (s.model, s.level): s.target_ratio for s in store.effort_settings()}
    rows = rows_by_level(outcomes, targets) or rows_by_threshold(outcomes)
    lines = []
    for r in rows:
        held = "" if r.held is None else (
            f", {'held' if r.held else 'missed'} its target {r.target:.2f}")
        lines.append(
            f"refine {r.model} {r.group}: effort ratio {number(r.mean_ratio)}{held}, one-answer "
            f"{percent(r.one_answer_rate)}, mean rounds {number(r.mean_rounds, '{:.1f}')}, "
            f"score {number(r.first_quality)} → {number(r.quality)}, {r.malformed} malformed")
    return lines
