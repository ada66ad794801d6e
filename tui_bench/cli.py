"""Command-line parsing only. ``tui-bench`` opens the TUI; ``--run`` is headless.

Subcommands live in ``tui_bench/commands/<name>.py`` (each with ``add_arguments`` and ``run``)
and are imported only when used, as is the Textual app, so ``--run`` and ``--help`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tui_bench.commands.checks import check_common
from tui_bench.commands.errors import CommandError, UsageError

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args).
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("tui_bench.commands.models", "list models from every backend; mark them"),
    "scenarios": ("tui_bench.commands.scenarios", "list and validate scenarios and rubrics"),
    "locate": ("tui_bench.commands.locate",
               "print where the database, scenarios and templates are"),
    "report": ("tui_bench.commands.report", "rankings, difficulty, effort and surprises"),
    "export": ("tui_bench.commands.export", "write a batch as json, csv, md or html"),
    "batches": ("tui_bench.commands.batches", "list, show and compare batches"),
    "weights": ("tui_bench.commands.weights", "update routing weights from the latest scores"),
    "enrich": ("tui_bench.commands.enrich",
               "fetch a template's documents and add model-written metadata"),
    "mint": ("tui_bench.commands.mint", "mint a specialist snapshot from a batch"),
    "judge": ("tui_bench.commands.judge",
              "judge runs outside the TUI: --export FILE / --apply FILE"),
    "doctor": ("tui_bench.commands.doctor",
               "check the database; --recover OUT saves what is left"),
    "serve": ("tui_bench.commands.serve",
              "the full app in a browser (textual-serve, 127.0.0.1)"),
    "mlflow": ("tui_bench.commands.mlflow",
               "log runs to an MLflow tracking server: mlflow sync"),
    "rescore": ("tui_bench.commands.rescore", "score stored outputs again; compare scorings"),
    "import": ("tui_bench.commands.imports", "a JSONL or CSV data set as scenario files"),
    "calibrate": ("tui_bench.commands.calibrate",
                  "measure effort over refine thresholds; set low/medium/high per model"),
}


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every command shares: where the data is and where the backends are."""
    group = parser.add_argument_group("data and backends")
    group.add_argument("--db", metavar="PATH", help="database file (default: $TUI_BENCH_DB or "
                       "./bench.db)")
    group.add_argument("--scenarios-dir", action="append", metavar="DIR",
                       help="a scenario folder added to the shipped ones (repeatable; also "
                       "$TUI_BENCH_SCENARIOS and $XDG_DATA_HOME/tui-bench/scenarios)")
    group.add_argument("--templates-dir", metavar="DIR", help="specialist templates folder")
    group.add_argument("--ollama-host", action="append", metavar="URL",
                       help="Ollama server (repeatable; default: $OLLAMA_HOST)")
    group.add_argument("--keep-alive", metavar="DURATION",
                       help="how long Ollama keeps a model loaded (0 unloads after each call)")
    group.add_argument("--max-model-b", type=float, metavar="N",
                       help="refuse Ollama models above N billion parameters")
    group.add_argument("--openai-base-url", action="append", metavar="URL",
                       help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (repeatable:"
                       " replicas of one model share the cells)")
    group.add_argument("--openai-api-key", metavar="KEY", help="API key (default: $OPENAI_API_KEY)")
    group.add_argument("--price-in", type=float, metavar="USD",
                       help="price per million prompt tokens, for cost")
    group.add_argument("--price-out", type=float, metavar="USD",
                       help="price per million completion tokens, for cost")
    group.add_argument("--retries", type=int, metavar="N",
                       help="retries of a transient backend fault (default 2)")
    group.add_argument("--timeout", type=float, metavar="S",
                       help="longest wait for a response to start (default 600)")
    group.add_argument("--threads", metavar="N[,N...]",
                       help="CPU threads for the embedded model (default: half the cores); "
                       "a list is a grid axis")
    group.add_argument("--stall-timeout", type=float, metavar="S",
                       help="longest silence inside a stream before it counts as stalled "
                       "(default 120)")
    group.add_argument("--cell-deadline", type=float, metavar="S",
                       help="longest a cell may take, retries included (default: none)")
    group.add_argument("--max-answer-bytes", type=int, metavar="N",
                       help="largest answer a cell accepts (default 1048576)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-bench",
        description="Benchmark language models. With no arguments, opens the TUI.",
        epilog="Commands: " + "; ".join(f"{n}: {h}" for n, (_, h) in COMMANDS.items())
        + ". Run `tui-bench COMMAND --help` for each.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    run = parser.add_argument_group("headless run")
    run.add_argument("--run", action="store_true", help="run a batch without the TUI")
    run.add_argument("--resume", metavar="BATCH_ID",
                     help="finish an interrupted batch, skipping cells already stored")
    run.add_argument("--models", "-m", action="append", metavar="REFS",
                     help="models, comma-separated: embedded:smollm2, ollama:qwen2.5:0.5b, "
                     "openai:gpt-4o-mini (default: embedded:smollm2)")
    run.add_argument("--suite", action="append", metavar="NAMES",
                     help="suites: coding, writing, humaneval")
    run.add_argument("--scenarios", "-s", action="append", metavar="IDS",
                     help="scenario ids, globs (coding-*) or ranges (humaneval:0-10)")
    run.add_argument("--tier", action="append", metavar="TIERS",
                     help="prompt tiers L0..L3 (default L2)")
    run.add_argument("--prompt-version", action="append", metavar="VERSIONS",
                     help="prompt versions to compare (default v1)")
    run.add_argument("--iterations", "-n", type=int, default=1, metavar="N",
                     help="repeat each cell N times (for pass@k and spread)")
    run.add_argument("--mode", choices=("zero-shot", "iterative", "comparative", "refine"),
                     default="zero-shot", help="iterative sends failing tests back; refine "
                     "lets the model review and replace its own answer")
    run.add_argument("--max-iterations", type=int, default=3, metavar="N",
                     help="most attempts per cell in iterative mode")
    run.add_argument("--max-new-answers", type=int, default=3, metavar="N",
                     help="refine: most new answers per cell (the effort ratio's denominator)")
    run.add_argument("--refine-threshold", type=float, default=7, metavar="T",
                     help="refine: replace the answer while it self-scores below T (1..10)")
    run.add_argument("--effort", choices=("low", "medium", "high"),
                     help="refine with each model's calibrated threshold (tui-bench calibrate)")
    run.add_argument("--concurrency", "-j", type=int, metavar="N",
                     help="requests at once per host (default: each host's own: 1 per Ollama "
                     "host and embedded model, probed from 16 up for OpenAI-compatible ones)")
    run.add_argument("--adaptive", action="store_true",
                     help="probe every host's capacity: more requests while latency holds, "
                     "fewer on 429/503 or rising latency")
    run.add_argument("--batch-id", metavar="ID", help="name the batch (default batch_<time>_xxxx)")
    run.add_argument("--skip-warmup", action="store_true",
                     help="do not check agent scenarios' fixtures untouched before the batch")
    # Generation options: a comma list makes the option an axis of the grid (commands/axes.py).
    run.add_argument("--seed", metavar="N[,N...]", help="sampling seed (default 42)")
    run.add_argument("--temperature", metavar="X[,X...]", help="e.g. 0,0.7 (default 0)")
    run.add_argument("--max-tokens", metavar="N[,N...]", help="answer length cap (default 256)")
    run.add_argument("--num-ctx", metavar="N[,N...]", help="context window (default 2048)")
    run.add_argument("--top-p", metavar="X[,X...]")
    run.add_argument("--no-model-warmup", action="store_true",
                     help="no untimed warmup call per model before its first measured cell")
    run.add_argument("--stop", action="append", metavar="TEXT", help="stop sequence (repeatable)")
    run.add_argument("--judge", metavar="MODEL", help="grade every run with this model too")
    run.add_argument("--cache", action="store_true",
                     help="reuse a stored generation of the same model, messages, options, seed "
                     "and iteration instead of calling the model (zero-shot; marked cached)")
    run.add_argument("--interleave", action="store_true",
                     help="alternate models instead of running each model's cells together")
    run.add_argument("--specialist", metavar="TEMPLATE",
                     help="run every cell with and without this specialist template")
    run.add_argument("--specialist-only", choices=("both", "baseline", "specialist"),
                     default="both", help="with --specialist: run only one side")
    run.add_argument("--mint-template", metavar="TEMPLATE",
                     help="after the batch, mint a snapshot of this template from it")
    run.add_argument("--snapshots-dir", metavar="DIR", help="where --mint-template writes")
    run.add_argument("--baseline", metavar="BATCH_ID",
                     help="CI gate: fail when the batch regressed against this batch")
    run.add_argument("--fail-under", type=float, metavar="X",
                     help="CI gate: fail when success rate or mean score is below X (0..1)")
    run.add_argument("--margin", type=float, default=0.05, metavar="X",
                     help="CI gate: how much worse than the baseline counts as a regression")
    run.add_argument("--significance", type=float, metavar="ALPHA",
                     help="CI gate: fail on a regression only when it is significant at ALPHA")
    run.add_argument("--json", metavar="FILE", help="write the batch summary as JSON")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    run.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                     help="jsonl: one JSON line per finished cell on stdout, for scripts")
    run.add_argument("--mlflow", metavar="URI",
                     help="log each run to this MLflow tracking server as it finishes")
    run.add_argument("--mlflow-experiment", metavar="NAME", default="tui-bench",
                     help="the MLflow experiment for --mlflow (default tui-bench)")
    add_common(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in COMMANDS:
            return _subcommand(args_list[0], args_list[1:])
        parser = build_parser()
        args = parser.parse_args(args_list)
        check_common(args)
        if args.version:
            from tui_bench import __version__

            print(f"tui-bench {__version__}")
            return 0
        if args.run or args.resume:
            from tui_bench.commands.run import run_headless

            return run_headless(args)
        from tui_bench.commands.tui import open_tui

        return open_tui(args)
    except UsageError as exc:
        print(f"tui-bench: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"tui-bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tui-bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        line = _database_error(exc, args_list)
        if line is None:
            raise
        print(f"tui-bench: {line}", file=sys.stderr)
        return 1


def _database_error(exc: BaseException, argv: list[str]) -> str | None:
    """One line for an error from SQLite itself (damaged pages, a full disk), naming the file."""
    from tui_bench.store.doctor import database_error_line, is_database_error

    if not is_database_error(exc):
        return None
    from tui_bench import locations

    flag = next((a.split("=", 1)[1] for a in argv if a.startswith("--db=")), None)
    for index, arg in enumerate(argv[:-1]):
        if arg == "--db":
            flag = argv[index + 1]
    return database_error_line(exc, locations.db_path(flag))


def _subcommand(name: str, argv: list[str]) -> int:
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"tui-bench {name}", description=help_text)
    module.add_arguments(parser)
    add_common(parser)
    args = parser.parse_args(argv)
    check_common(args)
    return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
