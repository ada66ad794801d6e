"""Mint a snapshot: a template plus the proof, from one batch, of what its persona buys.

The batch holds the same cells run twice, once without a system persona (the baseline) and
once with the template's persona (``cell.specialist``). The snapshot carries both sides' runs
and a comparison of their means; a side that is missing is said so, never divided by.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tui_bench import __version__
from tui_bench.domain import RunRecord, utc_now
from tui_bench.specialists.comments import comment_safe
from tui_bench.specialists.paths import UnsafePathError, version_folder, write_numbered
from tui_bench.specialists.snapshot import (
    Benchmarks,
    Comparison,
    Figures,
    ModelCompared,
    PairedFigures,
    Snapshot,
    SnapshotMetadata,
    SnapshotRun,
    schema_problems,
)
from tui_bench.specialists.templates import (
    ResolvedTemplate,
    TemplateError,
    resolve_template,
    template_key,
)
from tui_bench.store import Store

PAGE = 2000


class MintError(ValueError):
    """A snapshot that cannot be minted, said so a person can act on it."""


@dataclass
class MintResult:
    """What minting wrote and recorded."""

    path: Path
    snapshot: Snapshot
    number: int
    snapshot_id: int
    resolved: ResolvedTemplate

    @property
    def comparison(self) -> Comparison:
        return self.snapshot.benchmarks.comparison


# --------------------------------------------------------------------------- comparison


@dataclass
class SideTotals:
    """Running sums for one side; means come out only where something was scored."""

    runs: int = 0
    scored: int = 0
    score_sum: float = 0.0
    judged: int = 0
    successes: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.runs += int(row.get("runs") or 0)
        self.scored += int(row.get("scored") or 0)
        self.score_sum += float(row.get("score_sum") or 0.0)
        self.judged += int(row.get("judged") or 0)
        self.successes += int(row.get("successes") or 0)

    @property
    def mean(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.judged if self.judged else None


def figure_rows(runs: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """The same per (specialist, model) sums the store's ``specialist_figures`` returns."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        row = groups.setdefault((run.specialist, run.model), {
            "specialist": run.specialist, "model": run.model, "runs": 0, "scored": 0,
            "score_sum": 0.0, "judged": 0, "successes": 0})
        row["runs"] += 1
        if run.status == "ok" and run.auto_score is not None:
            row["scored"] += 1
            row["score_sum"] += run.auto_score
        if run.status == "ok" and run.success is not None:
            row["judged"] += 1
            row["successes"] += int(run.success)
    return list(groups.values())


def _figures(base: SideTotals, spec: SideTotals, scope: str) -> dict[str, Any]:
    notes: list[str] = []
    if not base.runs:
        notes.append(f"no baseline runs {scope}")
    elif base.mean is None:
        notes.append(f"no scored baseline runs {scope} (all {base.runs} failed)")
    if not spec.runs:
        notes.append(f"no specialist runs {scope}")
    elif spec.mean is None:
        notes.append(f"no scored specialist runs {scope} (all {spec.runs} failed)")
    improvement = percent = None
    if base.mean is not None and spec.mean is not None:
        improvement = spec.mean - base.mean
        if base.mean == 0:
            notes.append("improvement percent is undefined: the baseline mean is 0")
        else:
            percent = 100.0 * improvement / base.mean
    return {
        "baseline_runs": base.runs, "specialist_runs": spec.runs,
        "baseline_scored": base.scored, "specialist_scored": spec.scored,
        "baseline_avg_score": base.mean, "specialist_avg_score": spec.mean,
        "baseline_success_rate": base.success_rate,
        "specialist_success_rate": spec.success_rate,
        "improvement": improvement, "improvement_pct": percent, "notes": notes,
    }


def is_template_run(specialist: str, key: str) -> bool:
    """Whether a run's specialist value names this template (``x``, ``x.json5``, ``d/x.json5``)."""
    return bool(specialist) and template_key(specialist) == key


def build_comparison(rows: Iterable[dict[str, Any]], key: str) -> Comparison:
    """Baseline (no specialist) against this template's runs, overall and per model.

    Runs of other specialists are ignored. Means are taken over runs that finished with a
    score; a side with nothing to average stays ``None`` and a note says why.
    """
    base, spec = SideTotals(), SideTotals()
    per_model: dict[str, tuple[SideTotals, SideTotals]] = {}
    for row in rows:
        if row["specialist"] == "":
            side = 0
        elif is_template_run(row["specialist"], key):
            side = 1
        else:
            continue
        (base, spec)[side].add(row)
        per_model.setdefault(row["model"], (SideTotals(), SideTotals()))[side].add(row)
    overall = _figures(base, spec, "in this batch")
    models = {model: Figures(**_figures(b, s, f"for {model}"))
              for model, (b, s) in sorted(per_model.items())}
    compared = [ModelCompared(model=m, baseline_score=f.baseline_avg_score,
                              specialist_score=f.specialist_avg_score,
                              improvement=f.improvement) for m, f in models.items()]
    return Comparison(**overall, models_compared=compared, per_model=models)


def paired_figures(runs: Iterable[RunRecord]) -> PairedFigures | None:
    """Twin cells (same cell without and with the specialist) compared pairwise."""
    from tui_bench.analysis.stats import paired_comparison

    sides: dict[tuple[Any, ...], dict[bool, RunRecord]] = {}
    for run in runs:
        key = (run.model, run.prompt_version, run.scenario_id, run.tier, run.iteration,
               run.options_key)
        sides.setdefault(key, {})[bool(run.specialist)] = run

    def score(run: RunRecord) -> float | None:
        return run.auto_score if run.status == "ok" else None

    def passed(run: RunRecord) -> bool:
        return run.status == "ok" and bool(run.success)

    twins = [(pair[False], pair[True]) for pair in sides.values() if len(pair) == 2]
    if not twins:
        return None
    result = paired_comparison((score(b), score(s), passed(b), passed(s)) for b, s in twins)
    return PairedFigures(
        pairs=result.pairs, scored_pairs=result.scored_pairs, baseline_only=result.a_only,
        specialist_only=result.b_only, mcnemar_p=result.p_value, mean_change=result.mean_diff,
        change_low=result.diff_low, change_high=result.diff_high, level=result.level)


def comparison_for_batch(store: Store, batch_id: str, template_ref: str) -> Comparison:
    """The comparison straight from the store's aggregates: cheap, for previews."""
    return build_comparison(store.specialist_figures(batch_id), template_key(template_ref))


# --------------------------------------------------------------------------- the snapshot


def minted_by() -> str:
    """The person minting: ``$TUI_BENCH_USER``, else the login name, else ``unknown``."""
    name = os.environ.get("TUI_BENCH_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in some containers
        return "unknown"


def batch_runs(store: Store, batch_id: str) -> list[RunRecord]:
    """Every run of a batch with its evaluations, read a page at a time."""
    runs: list[RunRecord] = []
    offset = 0
    while True:
        page = store.runs(batch_id, limit=PAGE, offset=offset, with_evaluations=True)
        runs.extend(page)
        if len(page) < PAGE:
            return runs
        offset += PAGE


def snapshot_run(run: RunRecord, suite: str | None = None) -> SnapshotRun:
    return SnapshotRun(
        run_id=run.run_id, suite=suite, scenario=run.scenario_id, tier=run.tier,
        agent=run.model, prompt_version=run.prompt_version, iteration=run.iteration,
        specialist_enabled=bool(run.specialist), template=run.specialist or None,
        status=run.status,
        overall_score=run.auto_score, success=run.success, error=run.error,
        evaluations=run.evaluations, telemetry=run.telemetry, started_at=run.started_at,
        finished_at=run.finished_at)


def build_snapshot(resolved: ResolvedTemplate, batch_id: str, runs: list[RunRecord],
                   suites: list[str], *, created_at: str | None = None,
                   run_suites: dict[str, str] | None = None) -> Snapshot:
    """The snapshot for a template and a batch's runs; validated by pydantic on the way."""
    key = resolved.key
    kept = [r for r in runs if not r.specialist or is_template_run(r.specialist, key)]
    comparison = build_comparison(figure_rows(kept), key)
    template = resolved.template.model_dump(mode="json")
    metadata = SnapshotMetadata(
        created_at=created_at or utc_now(), minted_by=minted_by(),
        template_version=resolved.template.version, template_source=str(resolved.path),
        template_kind=resolved.kind, batch_id=batch_id, tool_version=f"tui-bench {__version__}")
    benchmarks = Benchmarks(
        batch_id=batch_id, test_suites=suites,
        scenarios=sorted({r.scenario_id for r in kept}), models=sorted({r.model for r in kept}),
        runs=[snapshot_run(r, (run_suites or {}).get(r.run_id)) for r in kept],
        comparison=comparison,
        excluded_runs=len(runs) - len(kept), paired=paired_figures(kept))
    try:
        return Snapshot.model_validate({**template, "benchmarks": benchmarks.model_dump(),
                                        "snapshot_metadata": metadata.model_dump()})
    except ValidationError as exc:  # pragma: no cover - the parts were validated already
        raise MintError(f"the snapshot does not validate: {exc}") from None


def check_snapshot(data: dict[str, Any]) -> None:
    """Refuse a snapshot that breaks the published schema or the pydantic model."""
    problems = schema_problems(data)
    if problems:
        raise MintError("the snapshot breaks schemas/snapshot.schema.json: "
                        + "; ".join(problems[:5]))
    try:
        Snapshot.model_validate(data)
    except ValidationError as exc:
        raise MintError(f"the snapshot does not validate: {exc}") from None


def snapshot_text(snapshot: Snapshot) -> str:
    """The file's text: JSON (which is JSON5) under a comment saying what it is."""
    data = snapshot.model_dump(mode="json")
    meta = snapshot.snapshot_metadata
    head = comment_safe(
        f"// Specialist snapshot of {snapshot.name} {snapshot.version}, minted by "
        f"{meta.minted_by} at {meta.created_at} from batch {meta.batch_id}.") + "\n" + (
        "// Schema: schemas/snapshot.schema.json\n")
    return head + json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def mint_snapshot(store: Store, template_ref: str, batch_id: str, *, templates_dir: Path,
                  output_dir: Path) -> MintResult:
    """Mint ``snapshots/<name>/<version>/snapshot-NNN.json5`` from a batch and record it.

    Raises ``MintError`` (a ``ValueError``) for an unknown batch, a batch with none of this
    template's or baseline runs, an unsafe name or version, or a snapshot the schema refuses.
    """
    try:
        resolved = resolve_template(template_ref, Path(templates_dir))
    except TemplateError as exc:
        raise MintError(str(exc)) from None
    template = resolved.template
    try:
        folder = version_folder(Path(output_dir), template.name, template.version)
    except UnsafePathError as exc:
        raise MintError(f"refusing to write the snapshot: {exc}") from None
    if store.get_batch(batch_id) is None:
        raise MintError(f"no batch {batch_id!r} in {store.path}")
    runs = batch_runs(store, batch_id)
    snapshot = build_snapshot(resolved, batch_id, runs, store.batch_suites(batch_id),
                              run_suites=store.run_suites(batch_id))
    if not snapshot.benchmarks.runs:
        others = sorted({r.specialist for r in runs if r.specialist})
        hint = f" (it has runs for: {', '.join(others)})" if others else ""
        raise MintError(f"batch {batch_id!r} has no baseline or {resolved.key!r} runs{hint}")
    check_snapshot(snapshot.model_dump(mode="json"))
    path, number = write_numbered(folder, "snapshot", snapshot_text(snapshot))
    snapshot_id = store.record_snapshot(
        template=template.name, template_key=resolved.key, version=template.version,
        number=number, batch_id=batch_id, path=str(path), template_kind=resolved.kind,
        comparison=snapshot.benchmarks.comparison.model_dump(mode="json", exclude={"per_model"}),
        minted_by=snapshot.snapshot_metadata.minted_by,
        created_at=snapshot.snapshot_metadata.created_at)
    return MintResult(path=path, snapshot=snapshot, number=number, snapshot_id=snapshot_id,
                      resolved=resolved)
