"""Tokens per second over time, one line per model, redrawn on a timer (never per token)."""

from __future__ import annotations

from collections import deque

from textual_plotext import PlotextPlot


class RateChart(PlotextPlot):
    """A plotext line chart of the samples in ``LiveState.rates``."""

    def draw(self, rates: dict[str, deque[tuple[float, float]]]) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title("tokens/s")
        plt.xlabel("seconds")
        drawn = False
        for model, points in rates.items():
            if len(points) < 1:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            plt.plot(xs, ys, label=model.split(":", 1)[-1][:18], marker="braille")
            drawn = True
        if not drawn:
            plt.plot([0], [0])
        self.refresh()
