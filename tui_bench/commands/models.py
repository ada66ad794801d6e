"""``tui-bench models``: what every configured backend offers, recorded in the registry."""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console
from rich.table import Table

from tui_bench.backends import BackendError, BackendPool
from tui_bench.commands.context import open_store, settings_from
from tui_bench.domain import ModelInfo, ModelRef
from tui_bench.store import REGISTRY_STATUSES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mark", nargs=2, metavar=("MODEL", "STATUS"),
                        help=f"set a model's status: {', '.join(REGISTRY_STATUSES)}")
    parser.add_argument("--tier", help="with --mark: a tier label, e.g. small, daily, reference")
    parser.add_argument("--notes", help="with --mark: a note about the model")


async def discover(pool: BackendPool) -> tuple[list[ModelInfo], dict[str, str]]:
    """Ask every configured backend; an unreachable one is reported, not fatal."""
    found: list[ModelInfo] = []
    problems: dict[str, str] = {}
    for name in pool.configured():
        try:
            found.extend(await pool.get(name).list_models())
        except BackendError as exc:
            problems[name] = str(exc)
        except ImportError as exc:
            problems[name] = f"backend not available: {exc}"
    await pool.aclose()
    return found, problems


def run(args: argparse.Namespace) -> int:
    store = open_store(args)
    console = Console()
    if args.mark:
        model, status = args.mark
        try:
            ref = str(ModelRef.parse(model))
            store.set_model_status(ref, status, tier=args.tier, notes=args.notes)
        except ValueError as exc:
            console.print(f"tui-bench: {exc}", style="red")
            return 2
        console.print(f"{ref}: {status}")
        return 0
    found, problems = asyncio.run(discover(BackendPool(settings_from(args))))
    store.record_models(found)
    registry = {row["model"]: row for row in store.registry()}
    table = Table(title="Models", title_justify="left")
    for col in ("model", "reachable", "status", "params", "quant", "size", "context", "host"):
        table.add_column(col)
    for info in found:
        row = registry.get(info.ref, {})
        size = f"{info.size_bytes / 1e6:.0f} MB" if info.size_bytes else "—"
        table.add_row(info.ref, "yes" if info.reachable else "no", row.get("status", "candidate"),
                      info.parameter_size or "—", info.quantization or "—", size,
                      str(info.context_length or "—"), info.host or "—")
    seen = {info.ref for info in found}
    for ref, row in registry.items():
        if ref not in seen:
            table.add_row(ref, "no", row["status"], "—", "—", "—", "—", "not seen now")
    console.print(table)
    for backend, problem in problems.items():
        console.print(f"{backend}: {problem}", style="yellow")
    return 0
