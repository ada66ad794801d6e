"""Effort figures of refine runs and the calibration that turns them into effort levels.

Pure functions over outcome rows (one per finished refine run, as ``Store.refine_outcomes``
returns them): per model and threshold (or level) the mean effort ratio with a bootstrap
interval, the one-answer rate, mean rounds and quality gained per extra round; validation (does
effort rise with the threshold: Spearman's rank correlation with a bootstrap interval, and is
the one-answer rate below 1); the scenario check (trivial scenarios); and the threshold search
per level. numpy and scipy are imported lazily, only when a figure needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from tui_bench.present import number

DEFAULT_TARGETS = {"low": 0.25, "medium": 0.5, "high": 0.85}
TOP_SCORE = 1.0 - 1e-9  # a first answer at the evaluators' top score
TRIVIAL_SHARE = 0.5  # trivial: the first answer reached the top score in more than this share
HELD_TOLERANCE = 0.1  # a level held when its measured ratio is this close to its target
BOOTSTRAP_REPS = 2000
SEED = 20261130
LARGE_N = 400  # above this many runs, normal-theory intervals (the bootstrap agrees, slower)

Outcome = Mapping[str, Any]


# --------------------------------------------------------------------------- statistics


def mean_interval(values: Sequence[float], *, reps: int = BOOTSTRAP_REPS,
                  seed: int = SEED) -> tuple[float | None, float | None, float | None]:
    """Mean with a seeded 95% percentile-bootstrap interval; ``None`` where there is nothing."""
    if not values:
        return None, None, None
    import numpy as np

    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    if len(data) < 2:
        return mean, None, None
    if len(data) > LARGE_N:  # the central limit holds; a bootstrap would cost reps × n
        half = 1.96 * float(data.std(ddof=1)) / len(data) ** 0.5
        return mean, mean - half, mean + half
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(reps, len(data)))].mean(axis=1)
    return mean, float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation; ``None`` when either side does not vary."""
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(xs, ys).statistic)


def spearman_interval(xs: Sequence[float], ys: Sequence[float], *, reps: int = BOOTSTRAP_REPS,
                      seed: int = SEED) -> tuple[float | None, float | None]:
    """95% bootstrap interval of Spearman's rho, resampling (x, y) pairs; a resample in which
    either side does not vary carries no rank information and counts as rho 0."""
    if len(xs) < 3:
        return None, None
    import numpy as np
    from scipy.stats import rankdata

    if len(xs) > LARGE_N:  # Fisher's z with the Fieller-Hartley-Pearson standard error
        rho = spearman(xs, ys)
        if rho is None:
            return None, None
        z = float(np.arctanh(min(max(rho, -0.999999), 0.999999)))
        half = 1.96 * (1.06 / (len(xs) - 3)) ** 0.5
        return float(np.tanh(z - half)), float(np.tanh(z + half))

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(reps, len(x)))
    rx = np.apply_along_axis(rankdata, 1, x[idx])
    ry = np.apply_along_axis(rankdata, 1, y[idx])
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    rho = np.divide((rx * ry).sum(axis=1), denom, out=np.zeros(reps), where=denom > 0)
    return float(np.quantile(rho, 0.025)), float(np.quantile(rho, 0.975))


# --------------------------------------------------------------------------- effort figures


@dataclass
class EffortRow:
    """One model at one threshold (calibration) or one level (an --effort batch)."""

    model: str
    group: str  # "T=5" or "low"
    threshold: float | None
    runs: int
    malformed: int
    mean_ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    one_answer_rate: float | None
    mean_rounds: float | None
    quality: float | None  # mean final score
    first_quality: float | None  # mean first score
    gain_per_round: float | None  # (final - first) per round after the first
    target: float | None = None
    held: bool | None = None


def effort_row(model: str, group: str, outcomes: Sequence[Outcome], *,
               target: float | None = None) -> EffortRow:
    """The effort figures of one group of runs; malformed runs are counted, not averaged."""
    valid = [o for o in outcomes if not o["malformed"]]
    mean, low, high = mean_interval([o["effort_ratio"] for o in valid])
    thresholds = {o["threshold"] for o in outcomes}
    finals = [o["final_score"] for o in valid if o["final_score"] is not None]
    firsts = [o["first_score"] for o in valid if o["first_score"] is not None]
    gains = [o["final_score"] - o["first_score"] for o in valid
             if o["final_score"] is not None and o["first_score"] is not None]
    extra = [o["rounds"] - 1 for o in valid]
    gain = (sum(gains) / sum(extra)) if gains and sum(extra) > 0 else None
    return EffortRow(
        model=model, group=group,
        threshold=thresholds.pop() if len(thresholds) == 1 else None,
        runs=len(outcomes), malformed=len(outcomes) - len(valid),
        mean_ratio=mean, ratio_low=low, ratio_high=high,
        one_answer_rate=_share(o["collapsed"] for o in valid),
        mean_rounds=_mean([o["rounds"] for o in valid]),
        quality=_mean(finals), first_quality=_mean(firsts), gain_per_round=gain,
        target=target, held=_held(mean, low, high, target))


def rows_by_threshold(outcomes: Sequence[Outcome]) -> list[EffortRow]:
    """Per model and threshold, thresholds ascending."""
    groups = _group(outcomes, lambda o: (o["model"], float(o["threshold"])))
    return [effort_row(model, f"T={_t(t)}", rows) for (model, t), rows in sorted(groups.items())]


def rows_by_level(outcomes: Sequence[Outcome],
                  targets: Mapping[tuple[str, str], float]) -> list[EffortRow]:
    """Per model and level of ``--effort`` runs, with the level's target and whether it held."""
    order = {"low": 0, "medium": 1, "high": 2}
    groups = _group([o for o in outcomes if o.get("effort")],
                    lambda o: (o["model"], o["effort"]))
    return [effort_row(model, level, rows, target=targets.get((model, level)))
            for (model, level), rows in sorted(groups.items(),
                                               key=lambda kv: (kv[0][0], order[kv[0][1]]))]


# --------------------------------------------------------------------------- calibration


@dataclass
class Validation:
    """Whether calibration is possible for a model, and in plain words why not."""

    model: str
    runs: int
    rho: float | None
    rho_low: float | None
    rho_high: float | None
    one_answer_rate: float | None
    passed: bool
    reason: str


def validate(model: str, outcomes: Sequence[Outcome]) -> Validation:
    """Effort must rise with T (rho > 0 and its interval above 0) and not always collapse."""
    valid = [o for o in outcomes if not o["malformed"]]
    xs = [float(o["threshold"]) for o in valid]
    ys = [float(o["effort_ratio"]) for o in valid]
    collapse = _share(o["collapsed"] for o in valid)
    rho = spearman(xs, ys)
    low, high = spearman_interval(xs, ys) if rho is not None else (None, None)

    def verdict(passed: bool, reason: str) -> Validation:
        return Validation(model, len(outcomes), rho, low, high, collapse, passed, reason)

    malformed = len(outcomes) - len(valid)
    if len(set(xs)) < 2:
        return verdict(False, f"{len(valid)} well-formed runs over {len(set(xs))} threshold(s); "
                       "calibration needs at least two thresholds with well-formed runs"
                       + (f" ({malformed} malformed)" if malformed else ""))
    if collapse == 1:
        return verdict(False, "one-answer collapse: every run stopped after its first answer, "
                       "whatever the threshold")
    if rho is None:
        return verdict(False, f"effort ratio is {ys[0]:.2f} in every run: it does not follow "
                       "the threshold")
    if rho <= 0:
        return verdict(False, f"effort does not rise with the threshold (rho {rho:+.2f})")
    if low is None or low <= 0:
        return verdict(False, f"effort does not clearly rise with the threshold (rho "
                       f"{rho:+.2f}, 95% interval {number(low, '{:+.2f}')} to "
                       f"{number(high, '{:+.2f}')} includes 0); more trials may settle it")
    return verdict(True, f"effort rises with the threshold (rho {rho:+.2f}, 95% interval "
                   f"{number(low, '{:+.2f}')} to {number(high, '{:+.2f}')}); "
                   f"one-answer rate {collapse:.0%}")


@dataclass
class ScenarioCheck:
    scenario_id: str
    runs: int
    top_first: int  # runs whose first answer already reached the top score
    trivial: bool


def scenario_checks(outcomes: Sequence[Outcome]) -> list[ScenarioCheck]:
    """A scenario whose first answers reach the top score in most trials is trivial: there is
    nothing to refine, so it says nothing about effort."""
    out = []
    for sid, rows in sorted(_group(outcomes, lambda o: o["scenario_id"]).items()):
        top = sum(1 for o in rows if (o["first_score"] or 0) >= TOP_SCORE)
        out.append(ScenarioCheck(sid, len(rows), top, top > TRIVIAL_SHARE * len(rows)))
    return out


def mostly_trivial(checks: Sequence[ScenarioCheck]) -> bool:
    """At least half the suite's scenarios are trivial."""
    return bool(checks) and 2 * sum(c.trivial for c in checks) >= len(checks)


@dataclass
class LevelSetting:
    """The threshold chosen for one level, with the figures expected there."""

    level: str
    target: float
    threshold: float
    ratio: float  # mean effort ratio at the threshold (interpolated between measured ones)
    one_answer_rate: float | None
    quality: float | None
    note: str


def search_threshold(level: str, target: float, rows: Sequence[EffortRow]) -> LevelSetting:
    """1-D search over measured thresholds: the threshold whose (interpolated) mean effort ratio
    meets the target. Effort is read as non-decreasing in T (a running maximum), which the
    validation step has checked; a target out of the measured range takes the nearest end."""
    points = sorted((r for r in rows if r.threshold is not None and r.mean_ratio is not None),
                    key=lambda r: r.threshold or 0)
    if not points:
        raise ValueError("no measured thresholds")
    ratios, best = [], -1.0
    for r in points:
        best = max(best, r.mean_ratio or 0.0)
        ratios.append(best)

    def at(i: int, note: str) -> LevelSetting:
        p = points[i]
        return LevelSetting(level, target, float(p.threshold or 0), ratios[i],
                            p.one_answer_rate, p.quality, note)

    if target <= ratios[0]:
        return at(0, "measured" if target == ratios[0] else
                  f"the lowest threshold already gives {ratios[0]:.2f}")
    if target > ratios[-1]:
        return at(len(points) - 1, f"out of reach: at most {ratios[-1]:.2f} at the highest "
                  "threshold")
    for i in range(len(points) - 1):
        lo, hi = ratios[i], ratios[i + 1]
        if lo < target <= hi:
            if target == hi:
                return at(i + 1, "measured")
            frac = (target - lo) / (hi - lo)
            a, b = points[i], points[i + 1]
            ta, tb = a.threshold or 0.0, b.threshold or 0.0
            return LevelSetting(
                level, target, ta + frac * (tb - ta), target,
                _lerp(a.one_answer_rate, b.one_answer_rate, frac),
                _lerp(a.quality, b.quality, frac),
                f"interpolated between T={_t(a.threshold)} and T={_t(b.threshold)}")
    return at(len(points) - 1, "measured")  # pragma: no cover - the loop always returns


@dataclass
class ModelCalibration:
    model: str
    validation: Validation
    rows: list[EffortRow]
    levels: list[LevelSetting] = field(default_factory=list)


@dataclass
class CalibrationResult:
    """Everything a calibration found; ``refused`` says why nothing was calibrated at all."""

    models: list[ModelCalibration]
    scenarios: list[ScenarioCheck]
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(outcomes: Sequence[Outcome], targets: Mapping[str, float], *,
              models: Sequence[str] = ()) -> CalibrationResult:
    """Scenario check, then per model validation and (where it passes) a threshold per level.

    A model of ``models`` with no finished refine run at all is reported, not left out."""
    checks = scenario_checks(outcomes)
    refused = None
    if mostly_trivial(checks):
        names = ", ".join(c.scenario_id for c in checks if c.trivial)
        refused = (f"the suite is mostly trivial: first answers already reach the top score in "
                   f"most trials of {names}; choose harder scenarios")
    found_models = []
    for model, rows in sorted(_group(outcomes, lambda o: o["model"]).items()):
        table = rows_by_threshold(rows)
        check = validate(model, rows)
        found = ModelCalibration(model, check, table)
        if check.passed and refused is None:
            found.levels = [search_threshold(level, target, table)
                            for level, target in targets.items()]
        found_models.append(found)
    for model in models:
        if model not in {m.model for m in found_models}:
            found_models.append(ModelCalibration(model, Validation(
                model, 0, None, None, None, None, False,
                "no finished refine run: every cell failed or none has run yet "
                "(tui-bench batches show BATCH names the errors)"), []))
    return CalibrationResult(found_models, checks, refused)


def parse_targets(text: str) -> dict[str, float]:
    """``low=0.25,medium=0.5,high=0.85``; ValueError naming the bad part."""
    from tui_bench.domain import EFFORT_LEVELS

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in EFFORT_LEVELS:
            raise ValueError(f"{part!r}: give LEVEL=RATIO with LEVEL one of "
                             f"{', '.join(EFFORT_LEVELS)}")
        try:
            ratio = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value!r} is not a number") from None
        if not 0 <= ratio <= 1:
            raise ValueError(f"{part!r}: a target effort ratio is between 0 and 1")
        out[name.strip()] = ratio
    if not out:
        raise ValueError("no targets given")
    return out


# --------------------------------------------------------------------------- helpers


def _group(rows: Iterable[Outcome], key: Callable[[Outcome], Any]) -> dict[Any, list[Outcome]]:
    out: dict[Any, list[Outcome]] = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(flags: Iterable[bool]) -> float | None:
    items = list(flags)
    return sum(1 for f in items if f) / len(items) if items else None


def _lerp(a: float | None, b: float | None, frac: float) -> float | None:
    return None if a is None or b is None else a + frac * (b - a)


def _t(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


# --------------------------------------------------------------------------- the report


EFFORT_COLUMNS = ("model", "T / level", "runs", "malformed", "effort ratio", "95% interval",
                  "one-answer", "rounds", "quality", "gain/round")


def interval_text(row: EffortRow) -> str:
    if row.ratio_low is None or row.ratio_high is None:
        return "—"
    return f"{row.ratio_low:.2f}–{row.ratio_high:.2f}"


def held_text(row: EffortRow) -> str:
    """Whether an --effort level held: its measured ratio against its target."""
    if row.held is None or row.mean_ratio is None or row.target is None:
        return "—"
    return f"{'held' if row.held else 'missed'} ({row.mean_ratio:.2f} vs {row.target:.2f})"


def row_cells(row: EffortRow) -> list[str]:
    """An effort row as the text of ``EFFORT_COLUMNS`` (then target and held)."""
    def num(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    share = "—" if row.one_answer_rate is None else f"{row.one_answer_rate:.0%}"
    return [row.model, row.group, str(row.runs), str(row.malformed), num(row.mean_ratio, ".2f"),
            interval_text(row), share, num(row.mean_rounds, ".1f"), num(row.quality, ".2f"),
            num(row.gain_per_round, "+.3f"), num(row.target, ".2f"), held_text(row)]


@dataclass
class RefineEffort:
    """The effort report over refine runs: per model and threshold, and per model and level
    for ``--effort`` batches (with whether the level held against its calibrated target)."""

    by_threshold: list[EffortRow] = field(default_factory=list)
    by_level: list[EffortRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_threshold or self.by_level)


def refine_effort(store: Any, *, batch_id: str | None = None) -> RefineEffort:
    """The effort report from the store's per-group sums (a few rows at any scale); a group of
    at most ``LARGE_N`` runs reads its ratios for the bootstrap interval."""
    sums = store.refine_sums(batch_id)
    targets = {(s.model, s.level): s.target_ratio for s in store.effort_settings()}
    by_threshold = _group([s for s in sums if not s["effort"]],
                          lambda s: (s["model"], float(s["threshold"])))
    by_level = _group([s for s in sums if s["effort"]], lambda s: (s["model"], s["effort"]))
    order = {"low": 0, "medium": 1, "high": 2}
    return RefineEffort(
        by_threshold=[
            row_from_sums(model, f"T={_t(t)}", groups,
                          partial(store.refine_ratios, model, threshold=t, batch_id=batch_id))
            for (model, t), groups in sorted(by_threshold.items())],
        by_level=[
            row_from_sums(model, level, groups,
                          partial(store.refine_ratios, model, effort=level, batch_id=batch_id),
                          target=targets.get((model, level)))
            for (model, level), groups in sorted(by_level.items(),
                                                 key=lambda kv: (kv[0][0], order[kv[0][1]]))])


def row_from_sums(model: str, group: str, sums: Sequence[Mapping[str, Any]],
                  ratios: Callable[[], list[float]], *,
                  target: float | None = None) -> EffortRow:
    """:func:`effort_row`'s figures from ``Store.refine_sums`` rows of one group."""
    def total(name: str) -> float:
        return float(sum(s[name] or 0 for s in sums))

    valid = int(total("valid"))
    if valid <= LARGE_N:
        mean, low, high = mean_interval(ratios())
    else:
        mean = total("ratio_sum") / valid
        variance = max(0.0, (total("ratio_squares") - valid * mean * mean) / (valid - 1))
        half = 1.96 * (variance / valid) ** 0.5
        low, high = mean - half, mean + half
    thresholds = {float(s["threshold"]) for s in sums}
    extra = total("rounds") - valid
    return EffortRow(
        model=model, group=group, threshold=thresholds.pop() if len(thresholds) == 1 else None,
        runs=int(total("runs")), malformed=int(total("malformed")),
        mean_ratio=mean, ratio_low=low, ratio_high=high,
        one_answer_rate=total("collapsed") / valid if valid else None,
        mean_rounds=total("rounds") / valid if valid else None,
        quality=total("final_sum") / total("final_n") if total("final_n") else None,
        first_quality=total("first_sum") / total("first_n") if total("first_n") else None,
        gain_per_round=total("gain_sum") / extra if total("gain_n") and extra > 0 else None,
        target=target, held=_held(mean, low, high, target))


def _held(mean: float | None, low: float | None, high: float | None,
          target: float | None) -> bool | None:
    """A level held when its interval covers the target or its mean is within the tolerance."""
    if target is None or mean is None:
        return None
    inside = low is not None and high is not None and low <= target <= high
    return inside or abs(mean - target) <= HELD_TOLERANCE
