"""``tui-bench models``: what every configured backend offers, recorded in the registry.

Each run asks every configured backend (embedded always, Ollama at its hosts, the
OpenAI-compatible server when one is set), records what it found in the registry (first and
last seen, reachable or not, the details) and prints the registry. A backend that does not
answer costs one line of explanation, never a traceback. ``--mark MODEL STATUS`` sets a
model's status (candidate, verified, disabled), with an optional tier and note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from rich.table import Table

from tui_bench.backends import BackendError, BackendPool
from tui_bench.commands.context import make_console, open_store, settings_from
from tui_bench.domain import ModelInfo, ModelRef
from tui_bench.settings import Settings
from tui_bench.store import REGISTRY_STATUSES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mark", nargs=2, metavar=("MODEL", "STATUS"),
                        help=f"set a model's status: {', '.join(REGISTRY_STATUSES)}")
    parser.add_argument("--tier", help="with --mark: a tier label, e.g. small, daily, reference")
    parser.add_argument("--notes", help="with --mark: a note about the model")
    parser.add_argument("--offline", action="store_true",
                        help="print the registry without asking any backend")
    parser.add_argument("--json", action="store_true", help="print the registry as JSON")


def _unreachable_line(backend: str, error: BackendError, settings: Settings) -> str:
    """One line a person can act on, for a backend that did not answer."""
    text = str(error)
    if backend == "ollama" and "cannot connect" in text:
        where = error.host or ", ".join(settings.ollama_hosts) or "http://127.0.0.1:11434"
        return (f"ollama: not running at {where} (start it with `ollama serve`, or point "
                "--ollama-host / OLLAMA_HOST at a running server)")
    return f"{backend}: {text}"


async def discover(pool: BackendPool) -> tuple[list[ModelInfo], dict[str, str]]:
    """Ask every configured backend; an unreachable one is reported, not fatal."""
    found: list[ModelInfo] = []
    problems: dict[str, str] = {}
    try:
        for name in pool.configured():
            try:
                backend = pool.get(name)
                found.extend(await backend.list_models())
            except BackendError as exc:
                problems[name] = _unreachable_line(name, exc, pool.settings)
                continue
            except ImportError as exc:
                problems[name] = f"{name}: backend not available: {exc}"
                continue
            except Exception as exc:  # a bug in one backend must not hide the others
                problems[name] = f"{name}: listing failed: {type(exc).__name__}: {exc}"
                continue
            # Hosts of a multi-host backend that did not answer while others did.
            for host, problem in (getattr(backend, "problems", None) or {}).items():
                problems[f"{name} {host}"] = f"{name}: {problem}"
    finally:
        await pool.aclose()
    return found, problems


def _size(row: dict[str, Any]) -> str:
    size = row["details"].get("size_bytes")
    return f"{size / 1e6:.0f} MB" if size else "—"


def run(args: argparse.Namespace) -> int:
    store = open_store(args)
    console = make_console()
    if args.mark:
        model, status = args.mark
        try:
            ref = str(ModelRef.parse(model))
            store.set_model_status(ref, status, tier=args.tier, notes=args.notes)
        except ValueError as exc:
            print(f"tui-bench: {exc}", file=sys.stderr)
            return 2
        extra = "".join(f", {label} {value!r}" for label, value in
                        (("tier", args.tier), ("notes", args.notes)) if value)
        console.print(f"{ref}: {status}{extra}", highlight=False)
        return 0
    problems: dict[str, str] = {}
    seen: set[str] = set()
    if not args.offline:
        found, problems = asyncio.run(discover(BackendPool(settings_from(args))))
        store.record_models(found)
        seen = {info.ref for info in found}
    rows = store.registry()
    if args.json:
        print(json.dumps({"models": rows, "problems": list(problems.values())}, indent=2))
        return 0
    table = Table(title="Models", title_justify="left")
    table.add_column("model", overflow="fold", min_width=16)
    for col in ("reachable", "status", "tier", "params", "quant", "size", "context"):
        table.add_column(col)
    table.add_column("host", overflow="fold")
    for row in rows:
        details = row["details"]
        if args.offline:
            reachable = "?"
        elif row["model"] in seen:
            reachable = "yes" if row["reachable"] else "no"
        else:
            reachable = "not seen now"
        table.add_row(row["model"], reachable, row["status"], row["tier"] or "—",
                      details.get("parameter_size") or "—", details.get("quantization") or "—",
                      _size(row), str(details.get("context_length") or "—"),
                      details.get("host") or "—")
    console.print(table)
    for problem in problems.values():
        console.print(problem, style="yellow", highlight=False, soft_wrap=True)
    return 0
