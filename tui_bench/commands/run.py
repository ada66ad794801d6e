"""``tui-bench --run`` and ``--resume``: a batch from the command line, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from tui_bench.backends import BackendPool
from tui_bench.catalog import SelectionError
from tui_bench.commands.context import (
    CommandError,
    UsageError,
    load,
    open_store,
    settings_from,
    split_csv,
)
from tui_bench.domain import DEFAULT_MODEL, BatchSpec, GenerationOptions, ModelRef
from tui_bench.engine.plan import check_batch_id, new_batch_id, normalise_spec, plan
from tui_bench.headless import batch_summary, print_report, run_batch, write_json


def spec_from_args(args: argparse.Namespace, scenario_ids: list[str]) -> BatchSpec:
    """The grid the flags describe; pydantic's complaints become one-line usage errors."""
    models = split_csv(args.models) or [DEFAULT_MODEL]
    try:
        for model in models:
            ModelRef.parse(model)
        batch_id = check_batch_id(args.batch_id) if args.batch_id else new_batch_id()
        options = GenerationOptions(
            temperature=args.temperature, seed=args.seed, max_tokens=args.max_tokens,
            num_ctx=args.num_ctx, top_p=args.top_p, stop=args.stop or [])
        spec = BatchSpec(
            batch_id=batch_id, models=models, scenarios=scenario_ids,
            tiers=split_csv(args.tier) or ["L2"], prompt_versions=split_csv(args.prompt_version) or ["v1"],
            iterations=args.iterations, mode=args.mode, max_iterations=args.max_iterations,
            options=options, concurrency=args.concurrency, judge=args.judge,
            group_by_model=not args.interleave)
        return normalise_spec(spec)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise UsageError(f"--{field.replace('_', '-')}: {err.get('msg')}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_headless(args: argparse.Namespace) -> int:
    # Piped into a file or CI log, rich would wrap at 80 columns and cut model names short.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
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
            spec = spec_from_args(args, [s.id for s in chosen])
            if store.get_batch(spec.batch_id) is not None:
                raise UsageError(f"batch {spec.batch_id!r} exists; use --resume {spec.batch_id}")
        jsonl = args.progress == "jsonl"
        if jsonl:
            console = Console(stderr=True)  # stdout carries only the JSON lines
        if not args.quiet and not jsonl:
            cells = len(plan(spec))
            console.print(f"batch [bold]{spec.batch_id}[/]: {len(spec.models)} model(s) × "
                          f"{len(spec.scenarios)} scenario(s) × {len(spec.tiers)} tier(s) × "
                          f"{spec.iterations} iteration(s) = {cells} cells · db {store.path}")
        pool = BackendPool(settings_from(args))
        try:
            result = asyncio.run(run_batch(
                spec, store=store, catalog=catalog, pool=pool, console=console,
                resume=bool(args.resume), quiet=args.quiet,
                jsonl=sys.stdout if args.progress == "jsonl" else None))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        summary = batch_summary(store, spec.batch_id)
        if not args.quiet and not jsonl:
            print_report(console, store, spec.batch_id, summary)
        elif not jsonl:
            console.print(spec.batch_id)
        if args.json:
            write_json(Path(args.json), summary)
            if not args.quiet and not jsonl:
                console.print(f"summary written to {args.json}")
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
