"""``tui-bench mlflow sync [BATCH...]``: mirror runs into an MLflow experiment.

One MLflow run per tui-bench run (see ``integrations.mlflow``). Idempotent: runs already
mirrored to this server and experiment are not logged again, but judgments made since then are
sent. Without batches, every batch in the database is synced.
"""

from __future__ import annotations

import argparse
import os

from tui_bench.commands.context import make_console, open_store
from tui_bench.commands.errors import CommandError, UsageError

DEFAULT_EXPERIMENT = "tui-bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("sync",), help="sync: log runs to MLflow")
    parser.add_argument("batches", nargs="*", metavar="BATCH",
                        help="batches to sync (default: every batch)")
    parser.add_argument("--tracking-uri", metavar="URI",
                        default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="the MLflow tracking server, e.g. http://127.0.0.1:5000 "
                        "(default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--experiment", metavar="NAME", default=DEFAULT_EXPERIMENT,
                        help=f"MLflow experiment, created if missing (default "
                        f"{DEFAULT_EXPERIMENT})")


def run(args: argparse.Namespace) -> int:
    from tui_bench.integrations.mlflow import MlflowError, MlflowSync

    if not args.tracking_uri:
        raise UsageError("--tracking-uri: say which MLflow server (or set MLFLOW_TRACKING_URI)")
    if not args.experiment.strip():
        raise UsageError("--experiment: the name may not be empty")
    store = open_store(args)
    for batch in args.batches:
        if store.get_batch(batch) is None:
            raise CommandError(f"no batch {batch!r} in {store.path}")
    run_ids = store.batch_run_ids(list(dict.fromkeys(args.batches)) or None)
    try:
        sync = MlflowSync(store, args.tracking_uri, args.experiment)
        try:
            result = sync.sync(run_ids)
        finally:
            sync.close()
    except MlflowError as exc:
        raise CommandError(str(exc)) from None
    console = make_console()
    console.print(f"mlflow: {result.created} run(s) logged, {result.already} already there"
                  f" ({result.judged_updates} with new judgments) · experiment "
                  f"{args.experiment!r} at {args.tracking_uri}", highlight=False)
    if result.artifacts_as_tags:
        console.print(f"mlflow: the artifact store is not reachable over HTTP; prompt and "
                      f"output of {result.artifacts_as_tags} run(s) are in tags",
                      highlight=False)
    return 0
