"""A batch written out as JSON, CSV or Markdown (HTML lives in ``analysis.html``).

Every format is built from the portable summary (``analysis.summary.batch_summary``), so each
shows the same numbers. CSV has one row per run; an unknown figure is an empty cell, and
Markdown shows it as "—", never as 0.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from tui_bench.analysis.summary import batch_summary
from tui_bench.present import DASH, cost, duration, milliseconds, number, percent, rate, score
from tui_bench.store import Store

FORMATS = ("json", "csv", "md", "html")

# The per-run columns of the CSV, in order; evaluator scores follow as ``eval:<name>``.
CSV_COLUMNS = (
    "run_id", "model", "scenario_id", "tier", "prompt_version", "specialist", "iteration",
    "mode", "status", "error", "auto_score", "success", "first_success", "suspect",
    "suspect_cleared_at", "attempts", "retries",
    "ttft_ms", "total_ms", "load_ms", "paid_load", "prompt_tokens", "completion_tokens",
    "tokens_per_s", "cost", "host", "started_at", "finished_at", "cached", "cached_from",
    "scoring",
)


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=str) + "\n"


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def evaluator_names(summary: dict[str, Any]) -> list[str]:
    return sorted({name for run in summary["runs"] for name in run.get("evaluations", {})})


def to_csv(summary: dict[str, Any]) -> str:
    """One row per run; floats written in full so they read back exactly."""
    names = evaluator_names(summary)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(f"eval:{n}" for n in names)])
    for run in summary["runs"]:
        evals = run.get("evaluations", {})
        writer.writerow([_csv_value(run.get(c)) for c in CSV_COLUMNS]
                        + [_csv_value(evals.get(n, {}).get("score")) for n in names])
    return out.getvalue()


# --------------------------------------------------------------------------- markdown


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: list[str], rows: list[list[Any]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one letter per column (l or r)."""
    marks = ["---:" if (align[i:i + 1] == "r") else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def stats_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The batch's headline figures as (label, text) pairs, shared by md and html."""
    s = summary["summary"]
    return [
        ("runs", str(s["runs"])),
        ("ok / failed / cancelled", f"{s['ok']} / {s['failed']} / {s['cancelled']}"),
        ("success rate", percent(s["success_rate"])),
        ("mean score", score(s["mean_score"])),
        ("score spread", score(s["score_spread"])),
        ("mean ttft", milliseconds(s["mean_ttft_ms"])),
        ("mean tokens/s", rate(s["mean_tokens_per_s"])),
        ("prompt / completion tokens", f"{s['prompt_tokens']} / {s['completion_tokens']}"),
        ("cost", cost(s["cost"])),
    ]


MODEL_HEADERS = ["model", "runs", "ok", "failed", "success", "mean score", "spread",
                 "ttft ms", "tok/s", "cost"]


def model_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [[model, str(m["runs"]), str(m["ok"]), str(m["failed"]), percent(m["success_rate"]),
             score(m["mean_score"]), score(m["score_spread"]),
             number(m["mean_ttft_ms"], "{:.0f}"), rate(m["mean_tokens_per_s"]),
             cost(m["cost"])]
            for model, m in summary["summary"]["per_model"].items()]


RUN_HEADERS = ["model", "scenario", "tier", "version", "specialist", "#", "status", "score",
               "pass", "attempts", "ttft ms", "tok/s", "cached"]


def verdict_cell(run: dict[str, Any]) -> str:
    """yes/no, or "suspect" while a run is held until a person clears it."""
    if run.get("suspect") and not run.get("suspect_cleared_at"):
        return "suspect"
    return number(run["success"])


def run_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [[r["model"], r["scenario_id"], r["tier"], r["prompt_version"],
             r["specialist"] or DASH, str(r["iteration"]), r["status"],
             score(r["auto_score"]), verdict_cell(r), str(r["attempts"]),
             number(r["ttft_ms"], "{:.0f}"), rate(r["tokens_per_s"]),
             "cached" if r.get("cached") else ""]
            for r in summary["runs"]]


def to_markdown(summary: dict[str, Any]) -> str:
    s = summary["summary"]
    parts = [
        f"# Batch {summary['batch_id']}",
        (f"{summary['mode']} · {summary['status']} · started {summary['started_at'] or DASH}"
        f" · {duration(summary['duration_s'])} · {summary['cells']} cells"
        f" · {summary['tool']}"),
        "## Summary",
        md_table(["figure", "value"], [list(r) for r in stats_rows(summary)], "lr"),
        "## Per model",
        md_table(MODEL_HEADERS, model_rows(summary), "lrrrrrrrrr"),
    ]
    if s.get("evaluators"):
        parts += ["## Evaluators", md_table(
            ["evaluator", "mean score"],
            [[n, score(v)] for n, v in s["evaluators"].items()], "lr")]
    comp = s.get("comparative")
    if comp:
        parts += ["## Iterating against the first answer", md_table(
            ["", "success rate", "attempts", "completion tokens"],
            [["first answer", percent(comp["zero_shot"]["success_rate"]), "1",
              number(comp["zero_shot"]["completion_tokens"], "{}")],
             ["iterative", percent(comp["iterative"]["success_rate"]),
              number(comp["iterative"]["attempts"]),
              number(comp["iterative"]["completion_tokens"], "{}")]], "lrrr"),
            f"{comp['fixed_by_iterating']} of {comp['cells']} cells fixed by iterating."]
    if s.get("pass_at_k"):
        ks = sorted({k for v in s["pass_at_k"].values() for k in v})
        parts += ["## pass@k", md_table(
            ["model", *ks], [[m, *(score(v.get(k)) for k in ks)]
                             for m, v in s["pass_at_k"].items()], "l" + "r" * len(ks))]
    if s.get("specialists"):
        from tui_bench.analysis.specialist_table import COMPARISON_HEADERS, comparison_rows

        parts += ["## Baseline against specialist", md_table(
            COMPARISON_HEADERS, comparison_rows(s["specialists"]), "llrrrrl")]
    parts += ["## Runs", md_table(RUN_HEADERS, run_rows(summary), "llllllllrrrrl")]
    return "\n\n".join(parts) + "\n"


def render(summary: dict[str, Any], fmt_name: str) -> str:
    """The summary in one of ``FORMATS``."""
    from tui_bench.analysis.html import to_html

    writers: dict[str, Callable[[dict[str, Any]], str]] = {
        "json": to_json, "csv": to_csv, "md": to_markdown, "html": to_html}
    if fmt_name not in writers:
        raise ValueError(f"unknown format {fmt_name!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt_name](summary)


def export_batch(store: Store, batch_id: str, fmt_name: str, *,
                 scoring: int | None = None) -> str:
    """A stored batch in one of ``FORMATS``; ``KeyError`` if there is no such batch."""
    return render(batch_summary(store, batch_id, scoring=scoring), fmt_name)
