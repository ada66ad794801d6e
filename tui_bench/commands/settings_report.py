"""``tui-bench report --settings``: quality against speed for every setting combination."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from tui_bench.analysis.settings_report import SettingResult, settings_report
from tui_bench.commands.context import make_console
from tui_bench.present import interval, number, percent, score
from tui_bench.store import Store


def settings_table(model: str, rows: list[SettingResult]) -> Table:
    table = Table(title=f"Settings · {model} (★ on the Pareto front of score against tok/s)",
                  title_justify="left")
    for name in ("", "setting", "runs", "score", "95% CI", "success", "95% CI ", "tok/s",
                 "ttft ms", "memory MB", "truncated"):
        table.add_column(name, justify="left" if name in ("", "setting") else "right")
    for r in rows:
        memory = r.memory_bytes or r.size_bytes
        table.add_row("★" if r.pareto else "", r.setting, str(r.runs),
                      score(r.mean_score), interval(r.score_low, r.score_high),
                      percent(r.success_rate), interval(r.success_low, r.success_high, "{:.0%}"),
                      number(r.tokens_per_s, "{:.1f}"), number(r.ttft_ms, "{:.0f}"),
                      number(memory / 1e6 if memory else None, "{:.0f}"), str(r.truncated))
    return table


def print_settings(store: Store, args: argparse.Namespace, batch_id: str | None = None) -> int:
    report = settings_report(store, batch_id=batch_id)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    console = make_console()
    scope = f"batch {batch_id}" if batch_id else "every batch"
    if not report.models:
        console.print(f"No finished runs in {scope} yet.")
        return 0
    for model, rows in report.models.items():
        console.print(settings_table(model, rows))
    console.print("Intervals are 95%: where two settings' intervals overlap, the runs do not "
                  "show which is better. memory MB is the model's size where the backend does "
                  "not report memory in use.")
    return 0
