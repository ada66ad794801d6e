"""``tui-bench calibrate``: measure each model's effort over a grid of refine thresholds and
keep, per model that passes validation, the threshold for each effort level.

Each threshold is an ordinary refine batch (``<calibration>_t<T>``, trials as iterations), so a
stopped calibration resumes with ``--resume CALIBRATION`` and never redoes a finished trial.
``--export FILE`` writes the registry (YAML or JSON); ``--verify BATCH`` checks an ``--effort``
batch against the targets and marks each level that held as verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tui_bench.analysis.effort import (
    CalibrationResult,
    EffortRow,
    calibrate,
    held_text,
    interval_text,
    parse_targets,
    rows_by_level,
)
from tui_bench.backends import BackendPool
from tui_bench.catalog import SelectionError
from tui_bench.commands.checks import check_name, listed
from tui_bench.commands.context import (
    CommandError,
    UsageError,
    load,
    make_console,
    open_store,
    settings_from,
    split_csv,
)
from tui_bench.domain import (
    DEFAULT_MODEL,
    EFFORT_LEVELS,
    BatchSpec,
    EffortSetting,
    GenerationOptions,
    ModelRef,
    utc_now,
)
from tui_bench.engine.plan import check_batch_id, normalise_spec
from tui_bench.present import number, percent
from tui_bench.store import Store

EXPORT_FORMAT = "tui-bench.effort/1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", "-m", action="append", metavar="REFS",
                        help=f"models, comma-separated (default {DEFAULT_MODEL})")
    parser.add_argument("--suite", action="append", metavar="NAMES", help="suites to run")
    parser.add_argument("--scenarios", "-s", action="append", metavar="IDS",
                        help="scenario ids, globs or ranges")
    parser.add_argument("--thresholds", default="3,5,7,9", metavar="LIST",
                        help="refine thresholds to measure, 1..10 (default 3,5,7,9)")
    parser.add_argument("--trials", type=int, default=5, metavar="N",
                        help="trials per model, scenario and threshold (default 5)")
    parser.add_argument("--targets", default="low=0.25,medium=0.5,high=0.85", metavar="LIST",
                        help="target effort ratio per level (default low=0.25,medium=0.5,"
                        "high=0.85)")
    parser.add_argument("--max-new-answers", type=int, default=4, metavar="N",
                        help="cap on new answers per cell, the effort ratio's denominator "
                        "(default 4)")
    parser.add_argument("--max-tokens", type=int, default=256, metavar="N")
    parser.add_argument("--temperature", type=float, default=0.7,
                        help="sampling temperature; trials need variety (default 0.7)")
    parser.add_argument("--seed", type=int, default=42,
                        help="first trial's seed; trial k uses seed + k - 1")
    parser.add_argument("--calibration-id", metavar="ID", help="name the calibration")
    parser.add_argument("--resume", metavar="ID", help="finish a stopped calibration")
    parser.add_argument("--show", nargs="?", const="latest", metavar="ID",
                        help="print a stored calibration's result (default the latest)")
    parser.add_argument("--export", metavar="FILE",
                        help="write the effort registry to FILE (.yaml, .yml or .json) and exit")
    parser.add_argument("--verify", metavar="BATCH",
                        help="check an --effort batch against its targets; levels that held "
                        "become verified")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    console = make_console(stderr=bool(args.json))  # with --json, stdout carries only JSON
    store = open_store(args)
    if args.export:
        return export_registry(store, Path(args.export), console)
    if args.verify:
        return verify(store, args.verify, console, as_json=args.json)
    if args.show:
        return show(store, args.show, console, as_json=args.json)
    cal_id, spec = _calibration_spec(args, store)
    batch_ids = [batch_for(cal_id, t) for t in spec["thresholds"]]
    store.save_calibration(cal_id, spec, batch_ids)
    catalog = load(args)
    if not args.quiet:
        console.print(f"calibration [bold]{cal_id}[/]: {len(spec['models'])} model(s) × "
                      f"{len(spec['scenarios'])} scenario(s) × {spec['trials']} trial(s) at "
                      f"thresholds {', '.join(map(_t, spec['thresholds']))} · db {store.path}")
    from tui_bench.headless import run_batch

    for threshold, batch_id in zip(spec["thresholds"], batch_ids, strict=True):
        batch = batch_spec(spec, threshold, batch_id)
        if not args.quiet:
            console.print(f"threshold {_t(threshold)}: batch {batch_id}")
        try:
            result = asyncio.run(run_batch(
                batch, store=store, catalog=catalog, pool=BackendPool(settings_from(args)),
                console=console, resume=store.get_batch(batch_id) is not None,
                quiet=args.quiet))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if result.status == "cancelled":
            print(f"tui-bench: calibration {cal_id} stopped; resume with "
                  f"tui-bench calibrate --resume {cal_id}", file=sys.stderr)
            return 130
    found = analyse(store, cal_id)
    if args.json:
        print(json.dumps({"calibration_id": cal_id, **found.to_dict()}, indent=2))
    else:
        print_result(console, cal_id, found)
    return 0


def analyse(store: Store, cal_id: str) -> CalibrationResult:
    """Calibrate from the stored runs of a calibration's batches; keep the result and the
    passing models' levels (as candidates) in the store."""
    record = store.calibration(cal_id)
    if record is None:
        raise CommandError(f"no calibration {cal_id!r} in {store.path}")
    spec = record["spec"]
    found = calibrate(store.refine_outcomes(record["batch_ids"]), spec["targets"],
                      models=spec["models"])
    store.set_calibration_result(cal_id, {"calibration_id": cal_id, **found.to_dict()})
    settings = [EffortSetting(
        model=m.model, level=lv.level, threshold=round(lv.threshold, 2),  # type: ignore[arg-type]
        target_ratio=lv.target, measured_ratio=lv.ratio, one_answer_rate=lv.one_answer_rate,
        quality=lv.quality, trials=spec["trials"], calibration_id=cal_id)
        for m in found.models for lv in m.levels]
    if settings:
        store.save_effort_settings(settings)
    return found


def batch_for(cal_id: str, threshold: float) -> str:
    return f"{cal_id}_t{_t(threshold)}"


def batch_spec(spec: dict[str, Any], threshold: float, batch_id: str) -> BatchSpec:
    """One threshold's refine batch: every model and scenario, trials as iterations."""
    return normalise_spec(BatchSpec(
        batch_id=batch_id, models=spec["models"], scenarios=spec["scenarios"],
        iterations=spec["trials"], mode="refine", refine_threshold=threshold,
        max_new_answers=spec["max_new_answers"],
        options=GenerationOptions(**spec["options"])))


def apply_effort(store: Store, spec: BatchSpec, level: str) -> BatchSpec:
    """``--effort LEVEL``: each model's calibrated threshold for the level, or one line naming
    the model that has none."""
    if level not in EFFORT_LEVELS:
        raise UsageError(f"--effort {level!r}: use one of {', '.join(EFFORT_LEVELS)}")
    if spec.mode not in ("zero-shot", "refine"):
        raise UsageError(f"--effort sets refine thresholds; it cannot run in --mode {spec.mode}")
    thresholds = {}
    for model in spec.models:
        setting = store.effort_setting(model, level)
        if setting is None:
            raise UsageError(f"--effort {level}: no calibrated {level} threshold for {model} in "
                             f"{store.path} (run `tui-bench calibrate --models {model}` first)")
        thresholds[model] = setting.threshold
    return spec.model_copy(update={"mode": "refine", "effort": level,
                                   "refine_thresholds": thresholds})


def _calibration_spec(args: argparse.Namespace, store: Store) -> tuple[str, dict[str, Any]]:
    """The calibration to run: a stored one to resume, else the flags, checked."""
    if args.resume:
        record = store.calibration(args.resume)
        if record is None:
            raise CommandError(f"no calibration {args.resume!r} in {store.path}")
        return args.resume, record["spec"]
    models = listed(args.models, "--models", [DEFAULT_MODEL])
    for model in models:
        check_name(model, "--models")
        try:
            ModelRef.parse(model)
        except ValueError as exc:
            raise UsageError(f"--models: {exc}") from None
    thresholds = _thresholds(args.thresholds)
    try:
        targets = parse_targets(args.targets)
    except ValueError as exc:
        raise UsageError(f"--targets: {exc}") from None
    if not 1 <= args.trials <= 1000:
        raise UsageError(f"--trials: {args.trials} is not between 1 and 1000")
    catalog = load(args, warn=None)
    try:
        chosen = catalog.select(split_csv(args.suite), split_csv(args.scenarios))
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    if not chosen:
        raise CommandError("no scenarios to calibrate on (give --suite or --scenarios)")
    agents = [s.id for s in chosen if s.kind == "agent"]
    if agents:
        raise UsageError(f"--suite/--scenarios: agent scenarios do not refine: "
                         f"{', '.join(agents)}")
    cal_id = args.calibration_id or _new_id()
    try:
        check_batch_id(batch_for(cal_id, max(thresholds)))
        options = GenerationOptions(max_tokens=args.max_tokens, temperature=args.temperature,
                                    seed=args.seed)
        BatchSpec(batch_id="x", models=models, scenarios=["x"],
                  max_new_answers=args.max_new_answers)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err.get("loc", ("?",))[-1]).replace("_", "-")
        raise UsageError(f"--{field}: {err.get('msg')}") from None
    except ValueError as exc:
        raise UsageError(f"--calibration-id: {exc}") from None
    if store.calibration(cal_id) is not None:
        raise UsageError(f"calibration {cal_id!r} exists; use --resume {cal_id}")
    return cal_id, {
        "models": [str(ModelRef.parse(m)) for m in models],
        "scenarios": [s.id for s in chosen], "thresholds": thresholds, "trials": args.trials,
        "targets": targets, "max_new_answers": args.max_new_answers,
        "options": options.model_dump(exclude_none=True)}


def _thresholds(text: str) -> list[float]:
    values = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"--thresholds: {part!r} is not a number") from None
        if not 1 <= value <= 10:
            raise UsageError(f"--thresholds: {part} is outside 1..10 (the review scores 1 to 10)")
        values.append(value)
    if len(set(values)) < 2:
        raise UsageError("--thresholds: give at least two different thresholds, e.g. 3,5,7,9")
    return sorted(set(values))


def _new_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    return f"cal_{stamp}_{secrets.token_hex(2)}"


# --------------------------------------------------------------------------- output


def effort_table(title: str, rows: list[EffortRow]) -> Table:
    """Effort rows as a rich table: ratio with interval, one-answer rate, rounds, quality."""
    targets = any(r.target is not None for r in rows)
    table = Table(title=title, title_justify="left")
    names = ["model", "T / level", "runs", "malformed", "effort ratio", "95% interval",
             "one-answer", "rounds", "quality", "gain/round"]
    for name in names + (["target", "held"] if targets else []):
        table.add_column(name, justify="left" if name in ("model", "T / level") else "right")
    for r in rows:
        cells = [r.model, r.group, str(r.runs), str(r.malformed), number(r.mean_ratio, "{:.2f}"),
                 interval_text(r), percent(r.one_answer_rate), number(r.mean_rounds, "{:.1f}"),
                 number(r.quality, "{:.2f}"), number(r.gain_per_round, "{:+.3f}")]
        if targets:
            cells += [number(r.target, "{:.2f}"), held_text(r)]
        table.add_row(*cells)
    return table


def print_result(console: Console, cal_id: str, found: CalibrationResult) -> None:
    console.print(f"[bold]calibration {cal_id}[/]")
    for check in found.scenarios:
        if check.trivial:
            console.print(f"scenario {check.scenario_id} is trivial: its first answer reached "
                          f"the top score in {check.top_first} of {check.runs} trials")
    if found.refused:
        console.print(f"[red]calibrated nothing: {found.refused}[/]")
    for model in found.models:
        if model.rows:
            console.print(effort_table(f"Effort by threshold · {model.model}", model.rows))
        v = model.validation
        mark = "[green]calibrated[/]" if model.levels else "[red]not calibrated[/]"
        console.print(f"{model.model}: {mark}: {v.reason}")
        if model.levels:
            table = Table(title=f"Effort levels · {model.model}", title_justify="left")
            for name in ("level", "target", "threshold", "effort ratio", "one-answer",
                         "quality", "how"):
                table.add_column(name, justify="left" if name in ("level", "how") else "right")
            for lv in model.levels:
                table.add_row(lv.level, f"{lv.target:.2f}", f"{lv.threshold:.2f}",
                              f"{lv.ratio:.2f}", percent(lv.one_answer_rate),
                              number(lv.quality, "{:.2f}"), lv.note)
            console.print(table)


def show(store: Store, cal_id: str, console: Console, *, as_json: bool) -> int:
    if cal_id == "latest":
        latest = store.calibrations(limit=1)
        if not latest:
            raise CommandError(f"no calibration in {store.path} yet")
        cal_id = latest[0]["calibration_id"]
    found = analyse(store, cal_id)
    if as_json:
        print(json.dumps({"calibration_id": cal_id, **found.to_dict()}, indent=2))
    else:
        print_result(console, cal_id, found)
    return 0


def verify(store: Store, batch_id: str, console: Console, *, as_json: bool) -> int:
    """An --effort batch against its targets; each level that held becomes verified."""
    if store.get_batch(batch_id) is None:
        raise CommandError(f"no batch {batch_id!r} in {store.path}")
    outcomes = store.refine_outcomes([batch_id], with_effort=True)
    if not outcomes:
        raise CommandError(f"batch {batch_id} has no finished --effort refine runs")
    rows = rows_by_level(outcomes, registry_targets(store))
    for row in rows:
        if row.held:
            store.verify_effort_setting(row.model, row.group, batch_id)
    if as_json:
        from dataclasses import asdict

        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        console.print(effort_table(f"Effort levels held? · batch {batch_id}", rows))
        held = [f"{r.model} {r.group}" for r in rows if r.held]
        console.print("verified: " + (", ".join(held) if held else "none"))
    return 0


def registry_targets(store: Store) -> dict[tuple[str, str], float]:
    return {(s.model, s.level): s.target_ratio for s in store.effort_settings()}


def export_registry(store: Store, path: Path, console: Console) -> int:
    """The registry as a file other tools read: YAML or JSON by the file's extension."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise UsageError(f"--export {path}: give a .yaml, .yml or .json file")
    document = {"format": EXPORT_FORMAT, "exported_at": utc_now(),
                "settings": [s.model_dump(mode="json") for s in store.effort_settings()]}
    if suffix == ".json":
        text = json.dumps(document, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(document, sort_keys=False)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--export {path}: {exc.strerror or exc}") from None
    console.print(f"{len(document['settings'])} effort setting(s) written to {path}")
    return 0


def _t(value: float) -> str:
    return f"{value:g}"


__all__ = ["add_arguments", "analyse", "apply_effort", "run"]
