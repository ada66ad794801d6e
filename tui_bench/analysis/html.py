"""A batch as one self-contained HTML file: inline CSS, charts as inline SVG, no script.

It opens offline in any browser and can be attached to a ticket or a CI artefact as is. Every
piece of text from the database is escaped; a figure that does not exist is drawn as "—" and
left out of the charts rather than drawn as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from tui_bench.analysis.export import (
    DASH,
    MODEL_HEADERS,
    RUN_HEADERS,
    fmt,
    model_rows,
    pct,
    run_rows,
    stats_rows,
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
 padding:0 1rem;color:#1d232a;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
 border-bottom:1px solid #d8dee4;padding-bottom:.2rem}
.meta{color:#57606a;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d8dee4;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.error td{color:#a40e26}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}figcaption{font-size:.85rem;color:#57606a}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#1d232a}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}
 th{background:#161b22}th,td{border-color:#30363d}svg text{fill:#e6edf3}.meta{color:#8b949e}}
@media print{.charts{display:block}}
"""

PALETTE = ("#2f81f7", "#3fb950", "#d29922", "#db61a2", "#a371f7", "#f85149", "#56d4dd",
           "#8b949e")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(title: str, items: Sequence[tuple[str, float | None]], *, maximum: float | None,
              label: str = "{:.2f}", width: int = 460) -> str:
    """Horizontal bars, one per item; an item without a value is listed with a dash."""
    known = [v for _, v in items if v is not None]
    top = maximum if maximum is not None else (max(known) if known else 1.0)
    top = top or 1.0
    row, left, right = 22, 170, 60
    height = row * len(items) + 10
    plot = width - left - right
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">')]
    for i, (name, value) in enumerate(items):
        y = 5 + i * row
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">'
                     f'<title>{escape(name)}</title>{escape(short)}</text>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 15}">{DASH}</text>')
            continue
        bar = max(0.0, min(1.0, value / top)) * plot
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{_num(bar)}" height="{row - 7}" '
                     f'fill="{colour}" rx="2"/>')
        parts.append(f'<text x="{_num(left + bar + 4)}" y="{y + 15}">'
                     f'{escape(label.format(value))}</text>')
    parts.append("</svg>")
    return (f'<figure>{"".join(parts)}<figcaption>{escape(title)}</figcaption></figure>')


def scatter_chart(title: str, points: Sequence[tuple[str, float, float]], *, x_label: str,
                  y_label: str, width: int = 460, height: int = 260) -> str:
    """One dot per (series, x, y), a colour per series; y runs 0..1 (a score)."""
    left, bottom, top_pad, right = 40, 30, 10, 120
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    x_max = max((x for _, x, _ in points), default=1.0) or 1.0
    series = sorted({s for s, _, _ in points})
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'),
             (f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" '
             'stroke="#8b949e"/>'),
             (f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
             f'y2="{top_pad + plot_h}" stroke="#8b949e"/>')]
    for tick in (0.0, 0.5, 1.0):
        y = top_pad + plot_h * (1 - tick)
        parts.append(f'<text x="{left - 4}" y="{_num(y + 4)}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">'
                 f'{escape(x_label)} (max {x_max:.0f})</text>')
    parts.append(f'<text x="{left + 4}" y="{top_pad + 10}">{escape(y_label)}</text>')
    for name, x, y in points:
        cx = left + plot_w * (x / x_max)
        cy = top_pad + plot_h * (1 - max(0.0, min(1.0, y)))
        parts.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="3" fill="{colour[name]}" '
                     f'fill-opacity=".75"><title>{escape(name)}: {x:.1f}, {y:.2f}</title>'
                     '</circle>')
    for i, name in enumerate(series):
        y = top_pad + 12 + i * 16
        short = name if len(name) <= 16 else name[:15] + "…"
        parts.append(f'<rect x="{left + plot_w + 10}" y="{y - 8}" width="9" height="9" '
                     f'fill="{colour[name]}"/><text x="{left + plot_w + 23}" y="{y}">'
                     f'<title>{escape(name)}</title>{escape(short)}</text>')
    parts.append("</svg>")
    return f'<figure>{"".join(parts)}<figcaption>{escape(title)}</figcaption></figure>'


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
               numeric: Sequence[int] = (), row_class: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = "".join(f'<td class="n">{escape(str(v))}</td>' if j in numeric
                        else f"<td>{escape(str(v))}</td>" for j, v in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(summary: dict[str, Any]) -> str:
    """The batch summary as a standalone page: headline figures, charts, tables."""
    s = summary["summary"]
    per_model = s["per_model"]
    charts = [
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
    sections = [
        f"<h1>Batch {escape(summary['batch_id'])}</h1>",
        (f'<p class="meta">{escape(summary["mode"])} · {escape(str(summary["status"]))} · '
        f"started {escape(summary['started_at'] or DASH)} · "
        f"{escape(fmt(summary['duration_s'], '{:.1f} s'))} · {summary['cells']} cells · "
        f"{escape(summary['tool'])}</p>"),
        "<h2>Summary</h2>",
        html_table(["figure", "value"], stats_rows(summary), numeric=(1,)),
        f'<div class="charts">{"".join(charts)}</div>',
        "<h2>Per model</h2>",
        html_table(MODEL_HEADERS, model_rows(summary), numeric=range(1, 10)),
    ]
    comp = s.get("comparative")
    if comp:
        sections += ["<h2>Iterating against the first answer</h2>", html_table(
            ["", "success rate", "attempts", "completion tokens"],
            [["first answer", pct(comp["zero_shot"]["success_rate"]), "1",
              fmt(comp["zero_shot"]["completion_tokens"], "{}")],
             ["iterative", pct(comp["iterative"]["success_rate"]),
              fmt(comp["iterative"]["attempts"]),
              fmt(comp["iterative"]["completion_tokens"], "{}")]], numeric=(1, 2, 3)),
            (f"<p>{comp['fixed_by_iterating']} of {comp['cells']} cells fixed by "
            "iterating.</p>")]
    if s.get("pass_at_k"):
        ks = sorted({k for v in s["pass_at_k"].values() for k in v})
        sections += ["<h2>pass@k</h2>", html_table(
            ["model", *ks], [[m, *(fmt(v.get(k), "{:.3f}") for k in ks)]
                             for m, v in s["pass_at_k"].items()],
            numeric=range(1, len(ks) + 1))]
    if s.get("specialists"):
        from tui_bench.analysis.specialist_table import COMPARISON_HEADERS, comparison_rows

        sections += ["<h2>Baseline against specialist</h2>", html_table(
            COMPARISON_HEADERS, comparison_rows(s["specialists"]), numeric=(2, 3, 4, 5))]
    runs = summary["runs"]
    sections += [
        "<h2>Runs</h2>",
        html_table(RUN_HEADERS, run_rows(summary), numeric=(5, 7, 9, 10, 11),
                   row_class=["error" if r["status"] != "ok" else "" for r in runs]),
    ]
    errors = [r for r in runs if r.get("error")]
    if errors:
        items = "".join(f"<li><code>{escape(r['run_id'])}</code> {escape(r['model'])} · "
                        f"{escape(r['scenario_id'])}: {escape(str(r['error']))}</li>"
                        for r in errors)
        sections += [(f"<details><summary>{len(errors)} error(s)</summary><ul>{items}</ul>"
                     "</details>")]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>tui-bench · {escape(summary['batch_id'])}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(sections)
            + "\n</body></html>\n")
