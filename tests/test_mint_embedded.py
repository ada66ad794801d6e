"""Mint from a real batch: the embedded model runs cells with and without the persona."""

from __future__ import annotations

from pathlib import Path

import json5
import pytest

from tui_bench.analysis.summary import mean
from tui_bench.backends import BackendPool
from tui_bench.catalog import Catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.runner import Runner
from tui_bench.settings import Settings
from tui_bench.specialists import mint_snapshot, persona_resolver, specialist_axis
from tui_bench.specialists.snapshot import schema_problems
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SCENARIOS = ["coding-fizzbuzz", "writing-tip-new-manager"]

pytestmark = pytest.mark.slow


async def test_mint_from_a_real_embedded_batch(store: Store, shipped_catalog: Catalog,
                                               tmp_path: Path) -> None:
    missing = [s for s in SCENARIOS if shipped_catalog.scenario(s) is None]
    assert not missing, f"shipped scenarios missing: {missing}"
    spec = BatchSpec(batch_id="batch_mint_real", models=["embedded:smollm2"], scenarios=SCENARIOS,
                     specialists=specialist_axis("python-craftsman"),
                     options=GenerationOptions(max_tokens=24, seed=7))
    pool = BackendPool(Settings())
    runner = Runner(store, shipped_catalog, pool=pool, persona=persona_resolver(TEMPLATES))
    try:
        result = await runner.run(spec)
    finally:
        await pool.aclose()
    assert result.done == 4, store.runs(spec.batch_id)
    runs = store.runs(spec.batch_id, with_evaluations=True)
    persona = persona_resolver(TEMPLATES)("python-craftsman")
    assert {r.system for r in runs if r.specialist} == {persona}
    assert all(r.system != persona for r in runs if not r.specialist)

    out = tmp_path / "snapshots"
    minted = mint_snapshot(store, "python-craftsman", spec.batch_id, templates_dir=TEMPLATES,
                           output_dir=out)
    assert minted.path == (out / "python-craftsman" / "1.0.0" / "snapshot-001.json5").resolve()
    data = json5.loads(minted.path.read_text(encoding="utf-8"))
    assert schema_problems(data) == []

    bench = data["benchmarks"]
    assert bench["batch_id"] == spec.batch_id
    assert sorted(bench["test_suites"]) == ["coding", "writing"]
    assert len(bench["runs"]) == 4
    by_id = {r.run_id: r for r in runs}
    for row in bench["runs"]:
        stored = by_id[row["run_id"]]
        assert row["overall_score"] == pytest.approx(stored.auto_score)
        assert row["specialist_enabled"] is bool(stored.specialist)
        assert {e["evaluator"] for e in row["evaluations"]} == \
            {e.evaluator for e in stored.evaluations}
        assert row["telemetry"]["completion_tokens"] == stored.telemetry.completion_tokens

    base = mean(r.auto_score for r in runs if not r.specialist)
    special = mean(r.auto_score for r in runs if r.specialist)
    comparison = bench["comparison"]
    assert (comparison["baseline_runs"], comparison["specialist_runs"]) == (2, 2)
    assert comparison["baseline_avg_score"] == pytest.approx(base)
    assert comparison["specialist_avg_score"] == pytest.approx(special)
    assert comparison["improvement"] == pytest.approx(special - base)
    if base:
        assert comparison["improvement_pct"] == pytest.approx(100 * (special - base) / base)
    else:
        assert comparison["improvement_pct"] is None
    assert comparison["per_model"]["embedded:smollm2"]["baseline_avg_score"] == pytest.approx(base)
    assert data["snapshot_metadata"]["batch_id"] == spec.batch_id
    assert store.snapshots("python-craftsman")[0]["path"] == str(minted.path)
