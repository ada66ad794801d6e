"""``tui-bench import FILE --suite NAME``: a JSONL or CSV data set as scenario YAML files.

The files land in the user's scenario folder (the first ``--scenarios-dir``, else the first
folder of ``$TUI_BENCH_SCENARIOS``, else ``./scenarios``), one suite per folder, and load
beside the shipped suites: ``tui-bench --run --suite NAME`` runs them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui_bench import locations
from tui_bench.commands.context import load
from tui_bench.commands.errors import CommandError, UsageError, split_csv
from tui_bench.integrations.importers import (
    DEFAULT_EVALUATORS,
    FieldMap,
    ImportFailed,
    import_dataset,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="FILE", help="a .jsonl or .csv file, or a folder of them")
    parser.add_argument("--suite", required=True, metavar="NAME",
                        help="the suite the scenarios join (and their folder's name)")
    parser.add_argument("--prompt-field", default="prompt", metavar="FIELD",
                        help="the field with the prompt (default: prompt)")
    parser.add_argument("--expected-field", default="expected", metavar="FIELD",
                        help="the field with the expected answer or a list of expected "
                        "elements (default: expected)")
    parser.add_argument("--id-field", metavar="FIELD",
                        help="the field with each row's id (default: numbered rows)")
    parser.add_argument("--category-field", metavar="FIELD",
                        help="the field with each row's category (default: imported)")
    parser.add_argument("--system-field", metavar="FIELD", help="the field with a system prompt")
    parser.add_argument("--evaluators", action="append", metavar="NAMES",
                        help=f"evaluators of every scenario, comma-separated (default: "
                        f"{','.join(DEFAULT_EVALUATORS)}; oracle checks the expected answer)")
    parser.add_argument("--rubric", metavar="ID", help="the rubric the scenarios are judged by")
    parser.add_argument("--threshold", type=float, metavar="X",
                        help="score that counts as a pass, 0..1 (default 0.7)")
    parser.add_argument("--replace", action="store_true",
                        help="replace the suite's folder if it exists")


def run(args: argparse.Namespace) -> int:
    from tui_bench.scoring import evaluator_names

    evaluators = split_csv(args.evaluators) or list(DEFAULT_EVALUATORS)
    unknown = [name for name in evaluators if name not in evaluator_names()]
    if unknown:
        raise UsageError(f"--evaluators: unknown evaluator {unknown[0]!r} (known: "
                         f"{', '.join(sorted(evaluator_names()))})")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise UsageError("--threshold must be between 0 and 1")
    root = locations.import_dir(args.scenarios_dir)
    catalog = load(args, warn=None)
    if args.rubric is not None and args.rubric not in catalog.rubrics:
        raise UsageError(f"--rubric: unknown rubric {args.rubric!r} (known: "
                         f"{', '.join(sorted(catalog.rubrics))})")
    suite_folder = (root / args.suite).resolve()
    taken = {sid: s.source or sid for sid, s in catalog.scenarios.items()
             if not (args.replace and s.source
                     and Path(s.source).resolve().is_relative_to(suite_folder))}
    mapping = FieldMap(prompt=args.prompt_field, expected=args.expected_field or None,
                       id=args.id_field, category=args.category_field, system=args.system_field)
    try:
        result = import_dataset(Path(args.source), suite=args.suite, root=root,
                                mapping=mapping, evaluators=evaluators, rubric=args.rubric,
                                threshold=args.threshold, taken=taken, replace=args.replace)
    except ImportFailed as exc:
        for bad in exc.bad_rows:
            print(f"skipped: {bad}", file=sys.stderr)
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {root / args.suite}: {exc.strerror or exc}") from None
    for bad in result.bad_rows:
        print(f"skipped: {bad}", file=sys.stderr)
    print(f"imported {len(result.written)} scenario(s) into {result.folder} as suite "
          f"{result.suite!r}" + (f"; {len(result.bad_rows)} bad row(s) skipped"
                                 if result.bad_rows else ""))
    print(f"run them: tui-bench --run --suite {result.suite}"
          + (f" --scenarios-dir {root}" if args.scenarios_dir else ""))
    return 0
