"""``tui-bench mint TEMPLATE --batch-id ID``: a specialist snapshot with its benchmark proof."""

from __future__ import annotations

import argparse
import sys

from tui_bench import locations
from tui_bench.commands.context import CommandError, open_store
from tui_bench.present import score
from tui_bench.specialists.mint import MintError, mint_snapshot
from tui_bench.specialists.snapshot import Figures, PairedFigures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", metavar="TEMPLATE",
                        help="template name (python-craftsman) or file (templates/x.json5)")
    parser.add_argument("--batch-id", required=True, metavar="ID",
                        help="the batch that ran the template's cells with and without it")
    parser.add_argument("--output", metavar="DIR",
                        help="snapshots folder (default ./snapshots)")


def describe(figures: Figures) -> str:
    """One line: baseline and specialist means, and the change, or why there is none."""
    change = ""
    if figures.improvement is not None:
        pct = ("" if figures.improvement_pct is None
               else f" ({figures.improvement_pct:+.1f}%)")
        change = f" · improvement {figures.improvement:+.3f}{pct}"
    text = (f"baseline {score(figures.baseline_avg_score)} over {figures.baseline_scored}/"
            f"{figures.baseline_runs} runs · specialist {score(figures.specialist_avg_score)} over "
            f"{figures.specialist_scored}/{figures.specialist_runs} runs{change}")
    return text + "".join(f"\n    note: {n}" for n in figures.notes)


def describe_paired(paired: PairedFigures) -> str:
    """The paired evidence in one line: is the change more than noise?"""
    interval = ("" if paired.change_low is None or paired.change_high is None else
                f" [{paired.change_low:+.3f}, {paired.change_high:+.3f}] "
                f"({paired.level:.0%} CI, {paired.scored_pairs} pairs)")
    change = "—" if paired.mean_change is None else f"{paired.mean_change:+.3f}"
    p = "—" if paired.mcnemar_p is None else f"{paired.mcnemar_p:.3g}"
    return (f"paired: score change {change}{interval}; passes only with the specialist "
            f"{paired.specialist_only}, only without {paired.baseline_only}, McNemar p={p}")


def run(args: argparse.Namespace) -> int:
    try:
        store = open_store(args)
        try:
            result = mint_snapshot(store, args.template, args.batch_id,
                                   templates_dir=locations.templates_dir(args.templates_dir),
                                   output_dir=locations.snapshots_dir(args.output))
        finally:
            store.close()
    except (CommandError, MintError) as exc:
        print(f"tui-bench: {exc}", file=sys.stderr)
        return 1
    snap = result.snapshot
    print(f"minted {snap.name} {snap.version} from batch {args.batch_id} "
          f"(template: {result.resolved.kind} {result.resolved.path})")
    print(f"  {describe(result.comparison)}")
    for model, figures in result.comparison.per_model.items():
        print(f"  {model}: {describe(figures)}")
    paired = snap.benchmarks.paired
    if paired is not None:
        print(f"  {describe_paired(paired)}")
    print(f"written to {result.path}")
    return 0
