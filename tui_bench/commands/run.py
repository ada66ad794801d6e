"""``tui-bench --run`` and ``--resume``: a batch from the command line, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console

from tui_bench.backends import BackendPool
from tui_bench.backends.reachability import unreachable
from tui_bench.catalog import Catalog, SelectionError
from tui_bench.commands.axes import options_and_axes
from tui_bench.commands.checks import check_grid, check_name, listed
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
    DEFAULT_PROMPT_VERSION,
    BatchSpec,
    GenerationOptions,
    ModelRef,
    Scenario,
)
from tui_bench.engine.plan import (
    check_batch_id,
    new_batch_id,
    normalise_spec,
    option_combinations,
    plan,
)
from tui_bench.headless import batch_summary, print_report, run_batch, write_json
from tui_bench.present import number, score
from tui_bench.store import Store, StoreError

if TYPE_CHECKING:
    from tui_bench.integrations.mlflow import MlflowListener


def spec_from_args(args: argparse.Namespace, scenario_ids: list[str]) -> BatchSpec:
    """The grid the flags describe; pydantic's complaints become one-line usage errors."""
    models = listed(args.models, "--models", [DEFAULT_MODEL])
    tiers = listed(args.tier, "--tier", ["L2"])
    versions = listed(args.prompt_version, "--prompt-version", ["v1"])
    for model in models:
        check_name(model, "--models")
    check_name(args.judge, "--judge")
    specialists = [""]
    if args.specialist:
        from tui_bench.specialists.templates import specialist_axis, template_key

        specialists = specialist_axis(template_key(args.specialist), only=args.specialist_only)
    try:
        for model in models:
            ModelRef.parse(model)
        batch_id = check_batch_id(args.batch_id) if args.batch_id else new_batch_id()
        singles, axes = options_and_axes(args)
        options = GenerationOptions(**singles, stop=args.stop or [])
        spec = BatchSpec(
            batch_id=batch_id, models=models, scenarios=scenario_ids,
            tiers=tiers, prompt_versions=versions,
            specialists=specialists,
            iterations=args.iterations, mode=args.mode, max_iterations=args.max_iterations,
            options=options, concurrency=args.concurrency, judge=args.judge,
            group_by_model=not args.interleave, cache=getattr(args, "cache", False),
            max_new_answers=getattr(args, "max_new_answers", 3),
            refine_threshold=getattr(args, "refine_threshold", 7), option_axes=axes,
            model_warmup=not getattr(args, "no_model_warmup", False))
        if spec.judge is not None:
            ModelRef.parse(spec.judge)
        if spec.cache and spec.mode != "zero-shot":
            raise UsageError("--cache works with --mode zero-shot only")
        return normalise_spec(spec)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise UsageError(f"--{field.replace('_', '-')}: {err.get('msg')}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def settings_count(spec: BatchSpec) -> int:
    return len(option_combinations(spec))


def _check_grid(args: argparse.Namespace, scenarios: list[Scenario]) -> None:
    """The grid's size and prompt versions, refused before any planning or storing."""
    versions = listed(args.prompt_version, "--prompt-version", ["v1"])
    check_grid(len(listed(args.models, "--models", [DEFAULT_MODEL])), len(scenarios),
               len(listed(args.tier, "--tier", ["L2"])), len(versions),
               2 if args.specialist and args.specialist_only == "both" else 1, args.iterations,
               math.prod(len(values) for values in options_and_axes(args)[1].values()))
    defined = {v for s in scenarios for v in s.versions}
    unknown = [v for v in versions if v != DEFAULT_PROMPT_VERSION and v not in defined]
    if unknown:
        have = ", ".join(sorted(defined | {DEFAULT_PROMPT_VERSION}))
        raise UsageError(f"--prompt-version {', '.join(unknown)}: no chosen scenario defines "
                         f"it (defined: {have}); a scenario without a version runs its base "
                         "prompt")


def run_headless(args: argparse.Namespace) -> int:
    # Piped into a file or CI log, rich would wrap at 80 columns and cut model names short.
    console = make_console()
    try:
        _refuse_damaged(args)
        store = open_store(args)
        catalog = load(args)
        if args.resume:
            spec = store.batch_spec(args.resume)
            if spec is None:
                raise CommandError(f"no batch {args.resume!r} in {store.path}")
        else:
            try:
                chosen = catalog.select(split_csv(args.suite), split_csv(args.scenarios))
            except SelectionError as exc:
                raise UsageError(str(exc)) from None
            if not chosen:
                raise CommandError("no scenarios to run (is the scenarios folder empty?)")
            _check_grid(args, chosen)
            spec = spec_from_args(args, [s.id for s in chosen])
            if store.get_batch(spec.batch_id) is not None:
                raise UsageError(f"batch {spec.batch_id!r} exists; use --resume {spec.batch_id}")
            if getattr(args, "effort", None):
                from tui_bench.commands.calibrate import apply_effort

                spec = apply_effort(store, spec, args.effort)
            if not getattr(args, "skip_warmup", False):
                spec = _warm_up(store, catalog, spec, console,
                                quiet=args.quiet or args.progress == "jsonl")
        jsonl = args.progress == "jsonl"
        if jsonl:
            console = make_console(stderr=True)  # stdout carries only the JSON lines
        if not args.quiet and not jsonl:
            cells = len(plan(spec))
            console.print(f"batch [bold]{spec.batch_id}[/]: {len(spec.models)} model(s) × "
                          f"{len(spec.scenarios)} scenario(s) × {len(spec.tiers)} tier(s) × "
                          f"{settings_count(spec)} setting(s) × "
                          f"{spec.iterations} iteration(s) = {cells} cells · db {store.path}")
        persona = None
        if any(spec.specialists) or args.mint_template:
            persona = _persona(args, spec)
        if args.mint_template:
            _check_mint_template(args)
        if args.fail_under is not None and not 0 <= args.fail_under <= 1:
            raise UsageError("--fail-under must be between 0 and 1")
        pool = BackendPool(settings_from(args))
        mlflow = _mlflow_listener(args, store)

        async def checked_run() -> Any:
            # A backend that cannot be reached refuses the batch before it is stored, so
            # retrying against a dead server does not fill the history with failed batches.
            problems = await unreachable(pool, [*spec.models, *filter(None, [spec.judge])])
            if problems:
                await pool.aclose()
                raise CommandError("cannot start the batch, nothing was stored: "
                                   + "; ".join(problems))
            return await run_batch(
                spec, store=store, catalog=catalog, pool=pool, console=console,
                resume=bool(args.resume), quiet=args.quiet, persona=persona,
                jsonl=sys.stdout if args.progress == "jsonl" else None,
                listeners=[mlflow] if mlflow else [])

        try:
            result = asyncio.run(checked_run())
        except (ValueError, StoreError) as exc:  # StoreError: LeaseHeld, a failed write
            raise CommandError(str(exc)) from None
        finally:
            if mlflow:
                mlflow.close()
        _verify_writes(store, spec.batch_id, result.run_ids)
        summary = batch_summary(store, spec.batch_id)
        if not args.quiet and not jsonl:
            print_report(console, store, spec.batch_id, summary)
        elif not jsonl:
            console.print(spec.batch_id)
        if args.json:
            write_json(Path(args.json), summary)
            if not args.quiet and not jsonl:
                console.print(f"summary written to {args.json}")
        if args.mint_template and result.status != "cancelled":
            _mint(args, store, spec.batch_id, console)
        if args.fail_under is not None or args.baseline:
            gate_code = _gate(args, store, spec.batch_id, console)
            if gate_code:
                return gate_code
        if result.status == "cancelled":
            print(f"tui-bench: batch {spec.batch_id} stopped; resume with "
                  f"--resume {spec.batch_id}", file=sys.stderr)
            return 130
        attempted = result.done + result.failed
        if attempted and result.done == 0:
            first = store.runs(spec.batch_id, status="error", limit=1)
            reason = first[0].error if first else "unknown error"
            print(f"tui-bench: every cell failed; first error: {reason}", file=sys.stderr)
            return 1
        return 0
    except CommandError as exc:
        print(f"tui-bench: {exc}", file=sys.stderr)
        return 1


def _warm_up(store: Store, catalog: Catalog, spec: BatchSpec, console: Console, *,
             quiet: bool) -> BatchSpec:
    """Check each agent scenario's untouched fixture; leave the broken ones out of the batch."""
    from tui_bench.engine.warmup import warm_up, without_broken

    agent = [s for s in map(catalog.scenario, spec.scenarios) if s is not None
             and s.kind == "agent"]
    if not agent:
        return spec
    results = asyncio.run(warm_up(agent, store, spec.batch_id))
    for result in results:
        if not result.ok:
            print(f"warmup: scenario {result.scenario_id} is broken, left out: {result.reason}",
                  file=sys.stderr)
    kept = without_broken(spec, results)
    if not kept.scenarios:
        raise CommandError("every scenario failed its warmup, nothing to run "
                           "(--skip-warmup runs them anyway)")
    if not quiet:
        console.print(f"warmup: {len(results)} agent scenario(s) checked, "
                      f"{len(spec.scenarios) - len(kept.scenarios)} broken")
    return kept


def _mlflow_listener(args: argparse.Namespace, store: Store) -> MlflowListener | None:
    """``--mlflow URI``: log each run as it finishes (integrations.mlflow.MlflowListener)."""
    if not getattr(args, "mlflow", None):
        return None
    from tui_bench.integrations.mlflow import MlflowListener

    if not args.mlflow.startswith(("http://", "https://")):
        raise UsageError(f"--mlflow {args.mlflow!r}: give the tracking server's http(s):// "
                         "address")
    return MlflowListener(str(store.path), args.mlflow, args.mlflow_experiment,
                          report=lambda line: print(f"tui-bench: {line}", file=sys.stderr))


def _persona(args: argparse.Namespace, spec: BatchSpec) -> Callable[[str], str]:
    """Resolve every specialist template now, so a bad name fails before any cell runs."""
    from tui_bench import locations
    from tui_bench.specialists.templates import TemplateError, persona_resolver

    persona = persona_resolver(locations.templates_dir(args.templates_dir))
    try:
        for name in filter(None, spec.specialists):
            persona(name)
    except TemplateError as exc:
        raise UsageError(str(exc)) from None
    return persona


def _refuse_damaged(args: argparse.Namespace) -> None:
    """A batch never writes into a damaged file (SQLite's quick check, before opening)."""
    from tui_bench import locations
    from tui_bench.store.doctor import database_error_line, quick_problems

    path = locations.db_path(args.db)
    try:
        problems = quick_problems(path)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if problems:
        raise CommandError(database_error_line(f"damaged ({problems[0]})", path))


def _verify_writes(store: Store, batch_id: str, run_ids: list[str]) -> None:
    """Success is claimed only for runs that can be read back from the file."""
    from tui_bench.store.doctor import database_error_line, readable_run_ids

    stored = readable_run_ids(store, batch_id) if run_ids else set()
    missing = [r for r in run_ids if r not in stored]
    if missing:
        raise CommandError(database_error_line(
            f"{len(missing)} of {len(run_ids)} runs of {batch_id} cannot be read back", store.path))


def _check_mint_template(args: argparse.Namespace) -> None:
    """Resolve ``--mint-template`` before the batch runs, not after it."""
    from tui_bench import locations
    from tui_bench.specialists.templates import TemplateError, resolve_template

    check_name(args.mint_template, "--mint-template")
    try:
        resolve_template(args.mint_template, locations.templates_dir(args.templates_dir))
    except TemplateError as exc:
        raise UsageError(f"--mint-template: {exc}") from None


def _mint(args: argparse.Namespace, store: Store, batch_id: str, console: Console) -> None:
    from tui_bench import locations
    from tui_bench.specialists.mint import MintError, mint_snapshot

    try:
        minted = mint_snapshot(store, args.mint_template, batch_id,
                               templates_dir=locations.templates_dir(args.templates_dir),
                               output_dir=locations.snapshots_dir(args.snapshots_dir))
    except MintError as exc:
        raise CommandError(f"cannot mint: {exc}") from None
    comp = minted.comparison
    console.print(f"minted {minted.path} (template {minted.resolved.describe()})")
    console.print(f"  baseline mean {score(comp.baseline_avg_score)} ({comp.baseline_runs} runs), "
                  f"specialist mean {score(comp.specialist_avg_score)} "
                  f"({comp.specialist_runs} runs), "
                  f"improvement {number(comp.improvement, '{:+.3f}')}")
    for note in comp.notes:
        console.print(f"  {note}")


def _gate(args: argparse.Namespace, store: Store, batch_id: str, console: Console) -> int:
    from tui_bench.analysis.gate import evaluate_gate

    if args.baseline and store.get_batch(args.baseline) is None:
        raise CommandError(f"no baseline batch {args.baseline!r} in {store.path}")
    significance = getattr(args, "significance", None)
    if significance is not None and not 0 < significance < 1:
        raise UsageError("--significance must be between 0 and 1, e.g. 0.05")
    verdict = evaluate_gate(store, batch_id, fail_under=args.fail_under,
                            baseline=args.baseline, margin=args.margin, significance=significance)
    for reason in verdict.reasons:
        print(f"gate: {reason}", file=sys.stderr if not verdict.passed else sys.stdout)
    for cell in verdict.regressed_cells:
        before = number(cell.score_before)
        after = number(cell.score_after)
        print(f"gate: regressed {cell.label()}: {before} → {after}", file=sys.stderr)
    if verdict.passed:
        console.print("gate: passed")
    return verdict.exit_code
