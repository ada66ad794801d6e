"""Files people read with other tools (issue 18): a user name or folder with a line break never
breaks a snapshot's or an enriched template's JSON5."""

from __future__ import annotations

from pathlib import Path

import json5
import pytest

from tests.conftest import add_mint_runs
from tui_bench.cli import main
from tui_bench.specialists.comments import comment_safe
from tui_bench.specialists.enrich import enriched_text
from tui_bench.specialists.templates import EnrichmentInfo, load_template
from tui_bench.store import Store

ROOT = Path(__file__).resolve().parent.parent
NASTY = "eve\u2028evil\nname\r\u2029x"


def test_minted_snapshot_survives_a_user_name_with_line_breaks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_BENCH_USER", NASTY)
    db = tmp_path / "cli.db"
    store = Store(db)
    add_mint_runs(store, "b1", [("embedded:a", "", "ok", 0.5),
                           ("embedded:a", "python-craftsman", "ok", 0.6)])
    store.close()
    out = tmp_path / "snaps"
    assert main(["mint", "python-craftsman", "--batch-id", "b1", "--output", str(out),
                 "--db", str(db), "--templates-dir", str(ROOT / "templates")]) == 0
    text = (out / "python-craftsman" / "1.0.0" / "snapshot-001.json5").read_text()
    data = json5.loads(text)
    assert data["snapshot_metadata"]["minted_by"] == NASTY
    assert text.splitlines()[0].count("//") == 1 and "\\u2028" in text.splitlines()[0]


def test_enriched_file_survives_a_source_folder_with_line_breaks() -> None:
    template = load_template(ROOT / "templates" / "python-craftsman.json5")
    template.enrichment = EnrichmentInfo(enriched_at="2026-01-01T00:00:00Z",
                                         model="embedded:smollm2", enriched=1,
                                         source=f"/home/{NASTY}/t.json5")
    data = json5.loads(enriched_text(template))
    assert data["enrichment"]["source"] == f"/home/{NASTY}/t.json5"
    assert comment_safe("plain é name") == "plain é name"


def test_snapshot_uses_the_ze_benchmarks_field_names(tmp_path: Path) -> None:
    from tui_bench.specialists.snapshot import published_schema

    db = tmp_path / "cli.db"
    store = Store(db)
    add_mint_runs(store, "b1", [("embedded:a", "", "ok", 0.5),
                           ("embedded:a", "python-craftsman", "ok", 0.6)])
    store.close()
    out = tmp_path / "snaps"
    assert main(["mint", "python-craftsman", "--batch-id", "b1", "--output", str(out),
                 "--db", str(db), "--templates-dir", str(ROOT / "templates")]) == 0
    data = json5.loads((out / "python-craftsman" / "1.0.0" / "snapshot-001.json5").read_text())
    comparison = data["benchmarks"]["comparison"]
    assert comparison["baseline_avg_score"] == 0.5 and comparison["specialist_avg_score"] == 0.6
    assert comparison["improvement"] == pytest.approx(0.1)
    assert comparison["improvement_pct"] == pytest.approx(20.0)
    assert comparison["models_compared"] == [{
        "model": "embedded:a", "baseline_score": 0.5, "specialist_score": 0.6,
        "improvement": pytest.approx(0.1)}]
    run = data["benchmarks"]["runs"][0]
    for name in ("run_id", "suite", "scenario", "tier", "agent", "overall_score",
                 "specialist_enabled"):
        assert name in run, name
    assert run["agent"] == "embedded:a"
    props = published_schema()["$defs"]
    assert {"baseline_avg_score", "improvement_pct", "models_compared"} <= set(
        props["Comparison"]["properties"])
    assert {"suite", "scenario", "agent", "specialist_enabled"} <= set(
        props["SnapshotRun"]["properties"])
