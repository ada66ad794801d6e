"""Chart geometry for the HTML pages: numbers only, drawn as SVG by the Jinja templates.

Keeping the arithmetic here and the markup in ``templates_html/charts.html.j2`` means every
chart is testable as data, and no HTML lives in Python strings. A figure that does not exist is
listed with a dash and left out of the drawing, never drawn as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PALETTE = ("#2f81f7", "#3fb950", "#d29922", "#db61a2", "#a371f7", "#f85149", "#56d4dd",
           "#8b949e")


def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[:limit - 1] + "…"


def colours(names: Sequence[str]) -> dict[str, str]:
    """One stable colour per series name, in the order given."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


@dataclass
class Bar:
    name: str
    short: str
    y: float
    width: float | None  # None: no figure, shown as a dash
    text: str
    colour: str


@dataclass
class BarChart:
    title: str
    width: int
    height: int
    left: int
    row: int
    bars: list[Bar]


def bar_chart(title: str, items: Sequence[tuple[str, float | None]], *,
              maximum: float | None, label: str = "{:.2f}", width: int = 460) -> BarChart:
    """Horizontal bars, one per item, scaled to ``maximum`` (else the largest value)."""
    known = [v for _, v in items if v is not None]
    top = maximum if maximum is not None else (max(known) if known else 1.0)
    top = top or 1.0
    row, left, right = 22, 170, 60
    plot = width - left - right
    bars = []
    for i, (name, value) in enumerate(items):
        bars.append(Bar(
            name=name, short=_short(name, 26), y=5 + i * row,
            width=None if value is None else round(max(0.0, min(1.0, value / top)) * plot, 1),
            text="—" if value is None else label.format(value),
            colour=PALETTE[i % len(PALETTE)]))
    return BarChart(title=title, width=width, height=row * len(items) + 10, left=left, row=row,
                    bars=bars)


@dataclass
class Dot:
    series: str
    cx: float
    cy: float
    tip: str
    colour: str


@dataclass
class Legend:
    name: str
    short: str
    x: float
    y: float
    colour: str


@dataclass
class Tick:
    text: str
    x: float
    y: float


@dataclass
class Line:
    name: str
    points: str  # the SVG polyline's "x,y x,y ..."
    colour: str


@dataclass
class PlotChart:
    """A scatter or line plot: axes, ticks, dots, optional lines and a legend."""

    title: str
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    x_label: str
    y_label: str
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)


def _frame(title: str, x_label: str, y_label: str, series: Sequence[str], *,
           width: int, height: int, y_max: float) -> PlotChart:
    left, bottom, top, right = 44, 34, 12, 150
    chart = PlotChart(title=title, width=width, height=height, left=left, top=top,
                      plot_w=width - left - right, plot_h=height - bottom - top,
                      x_label=x_label, y_label=y_label)
    for tick in (0.0, 0.5, 1.0):
        chart.y_ticks.append(Tick(text=f"{tick * y_max:g}", x=left - 4,
                                  y=round(top + chart.plot_h * (1 - tick) + 4, 1)))
    for i, (name, colour) in enumerate(colours(series).items()):
        chart.legend.append(Legend(name=name, short=_short(name, 20),
                                   x=left + chart.plot_w + 10, y=top + 12 + i * 16,
                                   colour=colour))
    return chart


def _place(chart: PlotChart, fx: float, fy: float) -> tuple[float, float]:
    """A point's position from its fractions of the axes (clamped to the plot)."""
    fx, fy = max(0.0, min(1.0, fx)), max(0.0, min(1.0, fy))
    return (round(chart.left + chart.plot_w * fx, 1),
            round(chart.top + chart.plot_h * (1 - fy), 1))


def scatter_chart(title: str, points: Sequence[tuple[str, float, float]], *, x_label: str,
                  y_label: str, x_max: float | None = None, y_max: float = 1.0,
                  x_format: str = "{:.1f}", y_format: str = "{:.2f}", width: int = 460,
                  height: int = 260) -> PlotChart:
    """One dot per (series, x, y), a colour per series; y runs 0..``y_max``."""
    series = sorted({s for s, _, _ in points})
    chart = _frame(title, x_label, y_label, series, width=width, height=height, y_max=y_max)
    # Without a fixed maximum, leave a tenth of headroom so the fastest dot is not on the edge.
    top_x = x_max if x_max is not None else 1.1 * max((x for _, x, _ in points), default=1.0)
    top_x = top_x or 1.0
    chart.x_label = f"{x_label} (0 to {x_format.format(top_x)})"
    colour = colours(series)
    for name, x, y in points:
        cx, cy = _place(chart, x / top_x, y / y_max)
        chart.dots.append(Dot(series=name, cx=cx, cy=cy, colour=colour[name],
                              tip=f"{name}: {x_format.format(x)}, {y_format.format(y)}"))
    return chart


def line_chart(title: str, series: dict[str, list[tuple[str, float]]], *, y_label: str,
               x_label: str = "batch, oldest first", y_max: float = 1.0, width: int = 700,
               height: int = 280) -> PlotChart:
    """Lines over a shared ordered x axis (e.g. batches by creation time), one per series.

    Each series is a list of (x key, y); x keys are placed in sorted order, so two models'
    points from the same batch line up.
    """
    names = sorted(series)
    chart = _frame(title, x_label, y_label, names, width=width, height=height, y_max=y_max)
    keys = sorted({key for points in series.values() for key, _ in points})
    slot = {key: (i / (len(keys) - 1) if len(keys) > 1 else 0.5) for i, key in enumerate(keys)}
    colour = colours(names)
    for name in names:
        placed = [(_place(chart, slot[key], y / y_max), key, y) for key, y in series[name]]
        chart.lines.append(Line(name=name, colour=colour[name],
                                points=" ".join(f"{x},{y}" for (x, y), _, _ in placed)))
        chart.dots += [Dot(series=name, cx=x, cy=y, colour=colour[name],
                           tip=f"{name} · {key}: {value:.3f}")
                       for (x, y), key, value in placed]
    if keys:
        for key in (keys[0], keys[-1]) if len(keys) > 1 else (keys[0],):
            x, _ = _place(chart, slot[key], 0.0)
            chart.x_ticks.append(Tick(text=key[:10], x=x, y=chart.top + chart.plot_h + 14))
    return chart
