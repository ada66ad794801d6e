"""The settings report: per model, what each setting combination buys in quality and costs in
speed, and which combinations are worth considering at all (the Pareto front).

A combination is on the front when no other combination of the same model is at least as good
on quality (mean score) and speed (tokens per second) and better on one. Every mean carries a
95% interval and every success rate a Wilson interval, so a "better" setting that is within
noise of another is visible as such.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tui_bench.analysis import stats
from tui_bench.engine.plan import value_text
from tui_bench.store import Store

REPORT_FORMAT = "tui-bench.settings/1"


@dataclass
class SettingResult:
    """One model at one setting combination."""

    model: str
    setting: str                      # the options key, e.g. ``t=0.7,ctx=8192``
    runs: int = 0
    mean_score: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    success_rate: float | None = None
    success_low: float | None = None
    success_high: float | None = None
    tokens_per_s: float | None = None
    ttft_ms: float | None = None
    memory_bytes: float | None = None  # where the backend reports it
    size_bytes: float | None = None    # the model file or weights
    truncated: int = 0                 # runs whose prompt plus answer filled the context
    pareto: bool = False


@dataclass
class SettingsReport:
    batch_id: str | None
    models: dict[str, list[SettingResult]] = field(default_factory=dict)

    def front(self, model: str) -> list[SettingResult]:
        return [r for r in self.models.get(model, []) if r.pareto]

    def to_dict(self) -> dict[str, Any]:
        return {"format": REPORT_FORMAT, "batch_id": self.batch_id,
                "models": {m: {"settings": [asdict(r) for r in rows],
                               "pareto": [r.setting for r in rows if r.pareto]}
                           for m, rows in self.models.items()}}


def _setting(row: dict[str, Any]) -> str:
    """The swept settings, or for a run without a sweep the settings that matter most."""
    if row["options_key"]:
        return str(row["options_key"])
    parts = []
    if row["temperature"] is not None:
        parts.append(f"t={value_text(float(row['temperature']))}")
    if row["num_ctx"] is not None:
        parts.append(f"ctx={int(row['num_ctx'])}")
    return ",".join(parts) or "default"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def settings_report(store: Store, *, batch_id: str | None = None) -> SettingsReport:
    """Group finished runs by model and setting; intervals, speed and the Pareto front."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in store.setting_rows(batch_id):
        groups.setdefault((row["model"], _setting(row)), []).append(row)
    report = SettingsReport(batch_id=batch_id)
    for (model, setting), rows in sorted(groups.items()):
        scores = [float(r["auto_score"]) for r in rows if r["auto_score"] is not None]
        decided = [bool(r["success"]) for r in rows if r["success"] is not None]
        score_ci = stats.clip(stats.mean_interval(scores))
        success_ci = stats.wilson_interval(sum(decided), len(decided))
        memory = [float(r["memory_bytes"]) for r in rows if r["memory_bytes"] is not None]
        sizes = [float(r["size_bytes"]) for r in rows if r["size_bytes"] is not None]
        report.models.setdefault(model, []).append(SettingResult(
            model=model, setting=setting, runs=len(rows), mean_score=_mean(scores),
            score_low=score_ci[0] if score_ci else None,
            score_high=score_ci[1] if score_ci else None,
            success_rate=_mean([float(d) for d in decided]),
            success_low=success_ci[0] if success_ci else None,
            success_high=success_ci[1] if success_ci else None,
            tokens_per_s=_mean([float(r["tokens_per_s"]) for r in rows
                                if r["tokens_per_s"] is not None]),
            ttft_ms=_mean([float(r["ttft_ms"]) for r in rows if r["ttft_ms"] is not None]),
            memory_bytes=max(memory) if memory else None, size_bytes=max(sizes) if sizes else None,
            truncated=sum(bool(r["truncated"]) for r in rows)))
    for results in report.models.values():
        for index in stats.pareto_front([(r.mean_score, r.tokens_per_s) for r in results]):
            results[index].pareto = True
    return report
