"""How far judges agree: between people, and between the LLM judge and people.

Two measures, both for numeric scores where a near miss is better than a far one:

- Krippendorff's alpha with the interval metric (any number of judges, missing data allowed);
- Cohen's kappa with quadratic weights (two raters; used for "LLM judge vs the people").

Each says ``None`` (shown "n/a") when there is not enough data or the measure is undefined
(for instance every value identical: agreement cannot be told apart from chance), never a number
made from nothing. This module imports neither Textual nor rich.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tui_bench.domain import Judgment

MIN_UNITS = 2  # fewer runs than this and a figure says nothing
TOTAL = "total"  # the row for the judgment's total, as a percent of the rubric range


def krippendorff_alpha_interval(units: Iterable[Sequence[float | None]]) -> float | None:
    """Krippendorff's alpha, interval metric, from each unit's values (None = not judged).

    alpha = 1 - D_o / D_e with squared differences; units with fewer than two values are not
    pairable and drop out. None when nothing is pairable or the values never vary (D_e = 0).
    """
    pairable = [[float(v) for v in unit if v is not None] for unit in units]
    pairable = [values for values in pairable if len(values) >= 2]
    n = sum(len(values) for values in pairable)
    if n < 2:
        return None
    observed = 0.0
    for values in pairable:
        m = len(values)
        within = sum((a - b) ** 2 for i, a in enumerate(values) for j, b in enumerate(values)
                     if i != j)
        observed += within / (m - 1)
    observed /= n
    everything = [v for values in pairable for v in values]
    # Sum over ordered pairs of all pairable values, computed in O(n) via the variance.
    mean = sum(everything) / n
    squares = sum((v - mean) ** 2 for v in everything)
    expected = (2 * n * squares) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def quadratic_kappa(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Cohen's kappa with quadratic weights for two raters on a numeric scale.

    With weights (i - j)^2 the categorical formula reduces to
    1 - N * sum((x - y)^2) / sum over all i, j of (x_i - y_j)^2, so it needs no category list.
    None with fewer than two pairs or when chance disagreement is zero.
    """
    if len(pairs) < 2:
        return None
    xs = [float(x) for x, _ in pairs]
    ys = [float(y) for _, y in pairs]
    n = len(pairs)
    observed = sum((x - y) ** 2 for x, y in zip(xs, ys, strict=True))
    # sum_i sum_j (x_i - y_j)^2 = n*sum(x^2) + n*sum(y^2) - 2*sum(x)*sum(y)
    chance = n * sum(x * x for x in xs) + n * sum(y * y for y in ys) - 2 * sum(xs) * sum(ys)
    if chance <= 1e-12:
        return None
    return 1.0 - n * observed / chance


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """Agreement on one criterion (or the total): the figures and how many runs they rest on."""

    criterion: str
    people_alpha: float | None
    people_runs: int  # runs at least two people judged
    model_kappa: float | None
    model_alpha: float | None
    model_runs: int  # runs the LLM judge and at least one person judged


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Agreement for one rubric: per criterion, between people and between LLM judge and people."""

    rubric_id: str
    people: list[str] = field(default_factory=list)
    model_judge: str | None = None
    rows: list[AgreementRow] = field(default_factory=list)


def figure(value: float | None, units: int) -> str:
    """A figure as a person reads it: ``0.85 (n=12)`` or ``n/a (n=1)``."""
    shown = "n/a" if value is None else f"{value:.2f}"
    return f"{shown} (n={units})"


def _value(j: Judgment, criterion: str) -> float | None:
    if criterion == TOTAL:
        return j.percent
    value = j.scores.get(criterion)
    return None if value is None else float(value)


def rubric_agreement(judgments: Sequence[Judgment], criteria: Sequence[str], *,
                     rubric_id: str = "", model_judge: str | None = None,
                     min_units: int = MIN_UNITS) -> AgreementReport:
    """Agreement per criterion and on the total, from every judge's latest judgment per run.

    People: alpha across all person judges (each run is a unit). LLM judge vs people: one pair
    per run, the model's score against the mean of the people's scores on that run, so a run
    three people judged does not count three times. ``model_judge`` defaults to the model
    judge with the most judgments here.
    """
    latest: dict[tuple[str, str, str], Judgment] = {}
    for j in judgments:
        if rubric_id and j.rubric_id != rubric_id:
            continue
        key = (j.run_id, j.judge_kind, j.judge)
        held = latest.get(key)
        if held is None or (j.judgment_id or 0) >= (held.judgment_id or 0):
            latest[key] = j
    people = sorted({j.judge for j in latest.values() if j.judge_kind == "person"})
    model_counts = Counter(j.judge for j in latest.values() if j.judge_kind == "model")
    if model_judge is None and model_counts:
        model_judge = min(model_counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    by_run: dict[str, dict[str, Judgment]] = {}
    model_by_run: dict[str, Judgment] = {}
    for (run_id, kind, judge), j in latest.items():
        if kind == "person":
            by_run.setdefault(run_id, {})[judge] = j
        elif judge == model_judge:
            model_by_run[run_id] = j
    rows = []
    for criterion in [*criteria, TOTAL]:
        units = [[_value(by_run[run][p], criterion) if p in by_run[run] else None
                  for p in people] for run in sorted(by_run)]
        people_units = sum(1 for u in units if sum(v is not None for v in u) >= 2)
        alpha = krippendorff_alpha_interval(units) if people_units >= min_units else None
        pairs: list[tuple[float, float]] = []
        for run, model_j in sorted(model_by_run.items()):
            model_value = _value(model_j, criterion)
            person_values = [v for v in (_value(j, criterion) for j in by_run.get(run, {}).values())
                             if v is not None]
            if model_value is not None and person_values:
                pairs.append((model_value, statistics.fmean(person_values)))
        enough = len(pairs) >= min_units
        rows.append(AgreementRow(
            criterion=criterion, people_alpha=alpha, people_runs=people_units,
            model_kappa=quadratic_kappa(pairs) if enough else None,
            model_alpha=krippendorff_alpha_interval(pairs) if enough else None,
            model_runs=len(pairs)))
    return AgreementReport(rubric_id=rubric_id, people=people, model_judge=model_judge,
                           rows=rows)


def score_units(table: Mapping[str, Mapping[str, float | None]]) -> list[list[float | None]]:
    """``{unit: {judge: value}}`` as the value lists alpha takes, judges in a fixed order."""
    judges = sorted({judge for row in table.values() for judge in row})
    return [[table[unit].get(judge) for judge in judges] for unit in sorted(table)]
