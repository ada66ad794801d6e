"""Build what every command needs (settings, store, catalog) from parsed arguments."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from rich.console import Console

from tui_bench import locations
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.commands.checks import check_db_path
from tui_bench.commands.errors import CommandError, UsageError, split_csv

__all__ = ["CommandError", "UsageError", "load", "make_console", "open_store", "settings_from",
           "split_csv"]
from tui_bench.settings import Settings
from tui_bench.store import Store, StoreError


def make_console(*, stderr: bool = False) -> Console:
    """Rich output; wide when piped so tables in logs and files are not squeezed to 80."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr) if stream.isatty() else Console(stderr=stderr, width=200)


def settings_from(args: argparse.Namespace) -> Settings:
    from tui_bench.commands.axes import single_threads

    overrides = {
        "ollama_hosts": split_csv(getattr(args, "ollama_host", None)),
        "keep_alive": getattr(args, "keep_alive", None),
        "max_model_b": getattr(args, "max_model_b", None),
        "openai_base_url": next(iter(split_csv(getattr(args, "openai_base_url", None))), None),
        "openai_base_urls": split_csv(getattr(args, "openai_base_url", None)),
        "adaptive": getattr(args, "adaptive", None) or None,
        "openai_api_key": getattr(args, "openai_api_key", None),
        "price_in_per_m": getattr(args, "price_in", None),
        "price_out_per_m": getattr(args, "price_out", None),
        "max_retries": getattr(args, "retries", None),
        "request_timeout_s": getattr(args, "timeout", None),
        "embedded_threads": single_threads(args),
        "stall_timeout_s": getattr(args, "stall_timeout", None),
        "cell_deadline_s": getattr(args, "cell_deadline", None),
        "max_answer_bytes": getattr(args, "max_answer_bytes", None),
    }
    return Settings.from_env(**overrides)


def open_store(args: argparse.Namespace) -> Store:
    path = locations.db_path(getattr(args, "db", None))
    check_db_path(path)
    try:
        return Store(path)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot open database {path}: {exc.strerror or exc}") from None


def load(args: argparse.Namespace, *, warn: TextIO | None = sys.stderr) -> Catalog:
    """The catalog, with a warning line per broken file; the rest still loads."""
    catalog = load_catalog(locations.scenarios_dirs(getattr(args, "scenarios_dir", None)))
    if warn is not None:
        for problem in catalog.problems:
            print(f"warning: {problem}", file=warn)
    return catalog
