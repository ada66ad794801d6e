"""``tui-bench judge``: judge runs outside the TUI, in any editor.

``--export FILE`` writes the runs waiting for judgment as one JSON file: per run the prompt, the
output, the rubric (criteria with ranges and anchors) and empty scores. The model is left out,
so judging from the file is blind. ``--apply FILE --judge NAME`` stores the filled-in scores:
each entry is checked on its own, a bad one is refused with one line naming the entry and the
field, the rest are stored. Entries whose scores are all still empty are skipped, not refused,
so a file can be judged a part at a time. Exit status 0 when every filled entry was stored,
1 when some were refused.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from tui_bench.catalog import Catalog
from tui_bench.commands.context import CommandError, load, open_store
from tui_bench.domain import Judgment, Rubric, RunRecord, utc_now
from tui_bench.judge_name import remembered_judge
from tui_bench.safe_files import UnsafeFileError, load_json
from tui_bench.store import Store
from tui_bench.store.judging import QueueFilter

EXPORT_FORMAT = "tui-bench.judging/1"
PAGE = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--export", metavar="FILE", help="write runs waiting for judgment as JSON")
    mode.add_argument("--apply", metavar="FILE", help="store the scores filled in a file")
    parser.add_argument("--batch", metavar="ID", help="with --export: only runs of this batch")
    parser.add_argument("--all", action="store_true",
                        help="with --export: runs a person judged already too")
    parser.add_argument("--judge", metavar="NAME",
                        help="with --apply: who judged (default: the name the TUI remembers)")


def run(args: argparse.Namespace) -> int:
    if args.export:
        return export(args)
    return apply(args)


# --------------------------------------------------------------------------- export


def rubric_block(rubric: Rubric) -> dict[str, Any]:
    """The rubric as the person filling the file needs it: ranges and anchors per criterion."""
    return {
        "id": rubric.id, "version": rubric.version, "name": rubric.name,
        "criteria": [{"id": c.id, "name": c.name, "min": c.min, "max": c.max,
                      "description": c.description,
                      "anchors": {str(k): v for k, v in sorted(c.anchors.items())}}
                     for c in rubric.criteria],
    }


def export_entry(run: RunRecord, rubric: Rubric) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "scenario_id": run.scenario_id, "tier": run.tier,
        "prompt_version": run.prompt_version, "system": run.system, "prompt": run.prompt,
        "output": run.output, "rubric": rubric_block(rubric),
        "scores": {c.id: None for c in rubric.criteria}, "notes": "",
    }


def export(args: argparse.Namespace) -> int:
    store = open_store(args)
    catalog = load(args)
    if args.batch and store.get_batch(args.batch) is None:
        raise CommandError(f"no batch {args.batch!r} in {store.path}")
    f = QueueFilter(batch_id=args.batch, unjudged="all" if args.all else "anyone",
                    shuffled=True)
    entries: list[dict[str, Any]] = []
    skipped = 0
    after: str | None = None
    while True:
        page = store.judging_queue(f, after=after, limit=PAGE)
        for item in page:
            run = store.get_run(item.run_id, with_evaluations=False)
            if run is None:
                continue
            rubric, problem = store.rubric_for_run(run, catalog)
            if rubric is None:
                print(f"warning: {run.run_id}: {problem}; not exported", file=sys.stderr)
                skipped += 1
                continue
            entries.append(export_entry(run, rubric))
        if len(page) < PAGE:
            break
        after = page[-1].key
    document = {
        "format": EXPORT_FORMAT, "exported_at": utc_now(), "database": store.path,
        "instructions": ("Fill every score with a whole number in the criterion's range "
                         "(see the anchors), optionally notes, then run: tui-bench judge "
                         "--apply THIS_FILE --judge YOUR_NAME. Entries left empty are skipped."),
        "runs": entries,
    }
    target = Path(args.export)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"exported {len(entries)} run(s) to {target}"
          + (f"; {skipped} without a rubric left out" if skipped else ""))
    return 0


# --------------------------------------------------------------------------- apply


def read_document(path: Path) -> list[Any]:
    """The file's entries; anything unreadable is one CommandError line naming file and place."""
    try:
        data = load_json(path)
    except UnsafeFileError as exc:
        raise CommandError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg}") from None
    except ValueError as exc:  # NaN, Infinity, 1e400, a 5,000-digit integer
        raise CommandError(f"{path}: {exc}") from None
    if isinstance(data, dict):
        runs = data.get("runs")
        if not isinstance(runs, list):
            raise CommandError(f"{path}: expected a \"runs\" list at the top level")
        return runs
    if isinstance(data, list):
        return data
    raise CommandError(f"{path}: expected an object with \"runs\" or a list of entries")


def _is_empty(entry: dict[str, Any]) -> bool:
    scores = entry.get("scores")
    return isinstance(scores, dict) and bool(scores) and all(v is None for v in scores.values())


def score_problems(rubric: Rubric, scores: dict[str, Any]) -> list[str]:
    """Rubric.validate_scores, worded per field: ``scores.correctness: 25 is outside 0..20``."""
    known = {c.id for c in rubric.criteria}
    problems = [f"scores.{key}: not a criterion of {rubric.id}" for key in scores
                if key not in known]
    for crit in rubric.criteria:
        value = scores.get(crit.id)
        if value is None:
            problems.append(f"scores.{crit.id}: not set")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not math.isfinite(value)) or value != int(value):
            problems.append(f"scores.{crit.id}: {value!r} is not a whole number")
        elif not crit.min <= value <= crit.max:
            problems.append(f"scores.{crit.id}: {value:g} is outside {crit.min}..{crit.max}")
    return problems


def check_entry(entry: Any, index: int, store: Store, catalog: Catalog, judge: str,
                seen: dict[str, int]) -> tuple[Judgment | None, str | None]:
    """A judgment from one entry, or the one line saying why it is refused."""
    if not isinstance(entry, dict):
        return None, f"entry {index}: expected an object, got {type(entry).__name__}"
    run_id = entry.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        return None, f"entry {index}: run_id: missing or not a string"
    where = f"entry {index} ({run_id})"
    if run_id in seen:
        return None, f"{where}: run_id: same run as entry {seen[run_id]}"
    seen[run_id] = index
    run = store.get_run(run_id, with_evaluations=False)
    if run is None:
        return None, f"{where}: run_id: no such run in {store.path}"
    rubric, problem = store.rubric_for_run(run, catalog)
    if rubric is None:
        return None, f"{where}: rubric: {problem}"
    given = entry.get("rubric")
    given_id = given.get("id") if isinstance(given, dict) else given
    if given_id is not None and given_id != rubric.id:
        return None, f"{where}: rubric: {given_id!r} is not the run's rubric {rubric.id!r}"
    scores = entry.get("scores")
    if not isinstance(scores, dict):
        return None, f"{where}: scores: expected an object of criterion -> number"
    notes = entry.get("notes", "")
    if notes is None:
        notes = ""
    if not isinstance(notes, str):
        return None, f"{where}: notes: expected text"
    problems = score_problems(rubric, scores)
    if problems:
        return None, f"{where}: " + "; ".join(problems)
    clean = {c.id: int(scores[c.id]) for c in rubric.criteria}
    return Judgment.from_scores(rubric, clean, run_id=run_id, judge=judge,
                                notes=notes.strip()), None


def apply(args: argparse.Namespace) -> int:
    judge = (args.judge or remembered_judge() or "").strip()
    if not judge:
        raise CommandError("say who judged: --judge NAME")
    path = Path(args.apply)
    entries = read_document(path)
    store = open_store(args)
    catalog = load(args)
    ok: list[Judgment] = []
    refused = skipped = 0
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and _is_empty(entry):
            skipped += 1
            continue
        judgment, problem = check_entry(entry, index, store, catalog, judge, seen)
        if judgment is None:
            refused += 1
            print(f"refused {problem}", file=sys.stderr)
        else:
            ok.append(judgment)
    mlflow_updated = 0
    if ok:
        store.save_judgments(ok)
        from tui_bench.integrations.mlflow import update_judged_runs

        mlflow_updated, problem = update_judged_runs(store, [j.run_id for j in ok])
        if problem:
            print(f"mlflow not updated ({problem}); the judgments are stored locally",
                  file=sys.stderr)
    parts = [f"stored {len(ok)} judgment(s) by {judge}"]
    if mlflow_updated:
        parts.append(f"updated {mlflow_updated} MLflow run(s)")
    if refused:
        parts.append(f"refused {refused}")
    if skipped:
        parts.append(f"skipped {skipped} with no scores")
    print("; ".join(parts))
    return 1 if refused else 0
