"""Minting from stored runs: the comparison's figures, the schema, the files and the table."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest

from tests.conftest import add_mint_runs
from tui_bench.specialists import snapshot as snapshot_module
from tui_bench.specialists.mint import (
    MintError,
    build_comparison,
    comparison_for_batch,
    figure_rows,
    mint_snapshot,
)
from tui_bench.specialists.snapshot import (
    SCHEMA_PATH,
    schema_problems,
    schema_text,
    snapshot_json_schema,
)
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
BATCH = "batch_mint_unit"


def test_committed_schema_equals_the_generated_one() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "regenerate with: python -c 'from tui_bench.specialists import write_schema; "
        "write_schema()'")


def test_comparison_means_improvement_and_per_model(store: Store) -> None:
    add_mint_runs(store, BATCH, [
        ("embedded:a", "", "ok", 0.4), ("embedded:a", "", "ok", 0.6),
        ("embedded:a", "python-craftsman", "ok", 0.9), ("embedded:a", "python-craftsman", "error", None),
        ("embedded:b", "", "ok", 0.5), ("embedded:b", "templates/python-craftsman.json5", "ok", 0.25),
        ("embedded:b", "other-template", "ok", 1.0),
    ])
    got = comparison_for_batch(store, BATCH, "python-craftsman")
    assert (got.baseline_runs, got.specialist_runs) == (3, 3)
    assert (got.baseline_scored, got.specialist_scored) == (3, 2)
    assert got.baseline_avg_score == pytest.approx(0.5)
    assert got.specialist_avg_score == pytest.approx((0.9 + 0.25) / 2)
    assert got.improvement == pytest.approx(0.075)
    assert got.improvement_pct == pytest.approx(15.0)
    assert got.notes == []
    a, b = got.per_model["embedded:a"], got.per_model["embedded:b"]
    assert (a.baseline_avg_score, a.specialist_avg_score) == (pytest.approx(0.5), pytest.approx(0.9))
    assert b.improvement == pytest.approx(-0.25)
    # The store's aggregates and the runs themselves give the same figures.
    runs = store.runs(BATCH, with_evaluations=True)
    assert build_comparison(figure_rows(runs), "python-craftsman") == got


def test_a_missing_side_is_said_not_divided(store: Store) -> None:
    add_mint_runs(store, BATCH, [("embedded:a", "python-craftsman", "ok", 0.8)])
    got = comparison_for_batch(store, BATCH, "python-craftsman")
    assert got.baseline_avg_score is None and got.improvement is None
    assert got.improvement_pct is None
    assert "no baseline runs in this batch" in got.notes
    only_base = build_comparison([{"specialist": "", "model": "m", "runs": 2, "scored": 0,
                                   "score_sum": None, "judged": 0, "successes": None}], "x")
    assert "no specialist runs in this batch" in only_base.notes
    assert any("no scored baseline runs" in n for n in only_base.notes)


def test_a_zero_baseline_has_no_percent_and_says_why(store: Store) -> None:
    add_mint_runs(store, BATCH, [("embedded:a", "", "ok", 0.0), ("embedded:a", "demo", "ok", 0.5)])
    got = comparison_for_batch(store, BATCH, "demo")
    assert got.improvement == pytest.approx(0.5)
    assert got.improvement_pct is None
    assert any("baseline mean is 0" in n for n in got.notes)


def test_mint_writes_a_valid_numbered_snapshot_and_records_it(store: Store,
                                                              tmp_path: Path) -> None:
    add_mint_runs(store, BATCH, [("embedded:a", "", "ok", 0.5), ("embedded:a", "python-craftsman", "ok", 0.75),
                            ("embedded:a", "someone-else", "ok", 0.1)])
    out = tmp_path / "snapshots"
    first = mint_snapshot(store, "python-craftsman", BATCH, templates_dir=TEMPLATES,
                          output_dir=out)
    second = mint_snapshot(store, "templates/python-craftsman.json5".replace(
        "templates", str(TEMPLATES)), BATCH, templates_dir=TEMPLATES, output_dir=out)
    assert first.path == (out / "python-craftsman" / "1.0.0" / "snapshot-001.json5").resolve()
    assert second.path.name == "snapshot-002.json5"
    data = json5.loads(first.path.read_text())
    assert data["persona"] == first.resolved.template.persona
    assert data["benchmarks"]["excluded_runs"] == 1
    assert {r["specialist_enabled"] for r in data["benchmarks"]["runs"]} == {True, False}
    assert data["benchmarks"]["runs"][0]["overall_score"] is not None
    assert data["benchmarks"]["runs"][0]["telemetry"]["ttft_ms"] == 10.0
    assert data["benchmarks"]["comparison"]["improvement_pct"] == pytest.approx(50.0)
    meta = data["snapshot_metadata"]
    assert meta["batch_id"] == BATCH and meta["template_version"] == "1.0.0"
    assert meta["minted_by"] and meta["tool_version"].startswith("tui-bench ")
    assert schema_problems(data) == []
    rows = store.snapshots("python-craftsman")
    assert [r["number"] for r in rows] == [2, 1]
    assert rows[0]["improvement_percent"] == pytest.approx(50.0)
    assert rows[0]["baseline_runs"] == 1 and rows[0]["path"] == str(second.path)


def test_mint_refuses_unknown_batches_and_batches_without_this_template(store: Store,
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(MintError, match="no batch 'nope'"):
        mint_snapshot(store, "python-craftsman", "nope", templates_dir=TEMPLATES,
                      output_dir=out)
    add_mint_runs(store, BATCH, [("embedded:a", "another", "ok", 0.5)])
    with pytest.raises(MintError, match="has no baseline or 'python-craftsman' runs.*another"):
        mint_snapshot(store, "python-craftsman", BATCH, templates_dir=TEMPLATES,
                      output_dir=out)
    assert not out.exists()


def test_mint_refuses_an_unsafe_name_even_if_the_model_was_bypassed(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_mint_runs(store, BATCH, [("embedded:a", "", "ok", 0.5)])
    from tui_bench.specialists import mint as mint_module
    from tui_bench.specialists.templates import resolve_template

    def evil(ref: str, folder: Path):
        resolved = resolve_template(ref, folder)
        bad = resolved.template.model_construct(**{**dict(resolved.template), "name": "../../etc"})
        return type(resolved)(resolved.key, resolved.path, resolved.kind, resolved.root, bad)

    monkeypatch.setattr(mint_module, "resolve_template", evil)
    out = tmp_path / "out"
    with pytest.raises(MintError, match="refusing to write the snapshot"):
        mint_snapshot(store, "python-craftsman", BATCH, templates_dir=TEMPLATES, output_dir=out)
    assert not out.exists() and not (tmp_path.parent / "etc").exists()


def minimal_snapshot() -> dict:
    return json.loads(json.dumps({
        "name": "demo", "version": "1", "purpose": "p", "persona": "q",
        "benchmarks": {"batch_id": "b", "test_suites": [], "scenarios": [], "models": [],
                       "runs": [], "comparison": {
                           "baseline_runs": 0, "specialist_runs": 0, "baseline_scored": 0,
                           "specialist_scored": 0, "baseline_avg_score": None,
                           "specialist_avg_score": None, "improvement": None,
                           "improvement_pct": None}},
        "snapshot_metadata": {"created_at": "now", "minted_by": "me", "template_version": "1",
                              "template_source": "x", "template_kind": "file",
                              "batch_id": "b", "tool_version": "t"}}))


def test_schema_rejects_a_snapshot_missing_required_fields() -> None:
    schema = snapshot_json_schema()

    def check(data: dict) -> list[str]:
        return schema_problems(data, schema)

    good = minimal_snapshot()
    assert check(good) == []
    for path in (("persona",), ("benchmarks",), ("snapshot_metadata", "batch_id"),
                 ("benchmarks", "comparison", "baseline_avg_score")):
        broken = minimal_snapshot()
        node = broken
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        problems = check(broken)
        assert problems, path
        assert any(path[-1] in p for p in problems), problems
    wrong = minimal_snapshot()
    wrong["benchmarks"]["runs"] = "not a list"
    wrong["surprise"] = 1
    assert len(check(wrong)) >= 2


def test_mint_refuses_a_snapshot_the_schema_refuses(store: Store, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    add_mint_runs(store, BATCH, [("embedded:a", "", "ok", 0.5)])
    strict = snapshot_json_schema()
    strict["required"] = [*strict["required"], "signature"]
    monkeypatch.setattr(snapshot_module, "published_schema", lambda: strict)
    with pytest.raises(MintError, match="signature: required field is missing"):
        mint_snapshot(store, "python-craftsman", BATCH, templates_dir=TEMPLATES,
                      output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json5"))
    assert store.snapshots() == []
