"""A batch as one self-contained HTML file: inline CSS, charts as inline SVG, no script.

It opens offline in any browser and can be attached to a ticket or a CI artefact as is. The
markup lives in Jinja2 templates (``tui_bench/templates_html/``, shared with the dashboard,
``analysis.dashboard``) with autoescape on, so every piece of text from the database is
escaped; a figure that does not exist is drawn as "—" and left out of the charts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tui_bench.analysis.charts import bar_chart, scatter_chart
from tui_bench.analysis.export import (
    MODEL_HEADERS,
    RUN_HEADERS,
    model_rows,
    run_rows,
    stats_rows,
)
from tui_bench.present import duration, number, percent, score


@cache
def environment() -> Environment:
    """The one Jinja2 environment over the package's HTML templates (autoescaped)."""
    return Environment(loader=PackageLoader("tui_bench", "templates_html"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_page(template: str, **context: Any) -> str:
    """A page from ``templates_html/<template>``, ending with one newline."""
    return environment().get_template(template).render(**context).rstrip() + "\n"


def batch_charts(summary: dict[str, Any]) -> list[Any]:
    """The batch page's charts: score, success and speed per model, score against speed."""
    s = summary["summary"]
    per_model = s["per_model"]
    charts: list[Any] = [
        bar_chart("Mean score per model", [(m, v["mean_score"]) for m, v in per_model.items()],
                  maximum=1.0, label="{:.2f}"),
        bar_chart("Success rate per model",
                  [(m, v["success_rate"]) for m, v in per_model.items()],
                  maximum=1.0, label="{:.0%}"),
        bar_chart("Mean tokens/s per model",
                  [(m, v["mean_tokens_per_s"]) for m, v in per_model.items()],
                  maximum=None, label="{:.1f}"),
    ]
    points = [(r["model"], r["tokens_per_s"], r["auto_score"]) for r in summary["runs"]
              if r["status"] == "ok" and r["tokens_per_s"] is not None
              and r["auto_score"] is not None]
    if points:
        charts.append(scatter_chart("Score against speed, one dot per run", points,
                                    x_label="tokens/s", y_label="score"))
    if s.get("evaluators"):
        charts.append(bar_chart("Mean score per evaluator", list(s["evaluators"].items()),
                                maximum=1.0))
    return charts


def to_html(summary: dict[str, Any]) -> str:
    """The batch summary as a standalone page: headline figures, charts, tables."""
    s = summary["summary"]
    comp = s.get("comparative")
    comparative = None
    if comp:
        comparative = {"fixed": comp["fixed_by_iterating"], "cells": comp["cells"], "rows": [
            ["first answer", percent(comp["zero_shot"]["success_rate"]), "1",
             number(comp["zero_shot"]["completion_tokens"], "{}")],
            ["iterative", percent(comp["iterative"]["success_rate"]),
             number(comp["iterative"]["attempts"]),
             number(comp["iterative"]["completion_tokens"], "{}")]]}
    pass_at_k = None
    if s.get("pass_at_k"):
        ks = sorted({k for v in s["pass_at_k"].values() for k in v})
        pass_at_k = {"headers": ["model", *ks],
                     "rows": [[m, *(score(v.get(k)) for k in ks)]
                              for m, v in s["pass_at_k"].items()]}
    specialists = None
    if s.get("specialists"):  # baseline against specialist, as the Markdown export shows it
        from tui_bench.analysis.specialist_table import COMPARISON_HEADERS, comparison_rows

        specialists = {"headers": COMPARISON_HEADERS,
                       "rows": comparison_rows(s["specialists"])}
    runs = summary["runs"]
    return render_page(
        "batch.html.j2", s=summary, duration=duration(summary["duration_s"]),
        stats=stats_rows(summary), charts=batch_charts(summary), model_headers=MODEL_HEADERS,
        models=model_rows(summary), comparative=comparative, pass_at_k=pass_at_k,
        specialists=specialists,
        run_headers=RUN_HEADERS, runs=run_rows(summary),
        run_classes=["error" if r["status"] != "ok" else "" for r in runs],
        errors=[r for r in runs if r.get("error")])
