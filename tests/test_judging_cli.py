"""``tui-bench judge --export / --apply``: the round trip, and one line per refused entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCENARIOS, add_judged_runs
from tui_bench.catalog import Catalog
from tui_bench.cli import main
from tui_bench.judge_name import remember_judge
from tui_bench.store import Store

SCEN = "coding-fizzbuzz"


def _cli(db: Path, *args: str) -> int:
    return main(["judge", *args, "--db", str(db), "--scenarios-dir", str(SCENARIOS)])


def _seed(db: Path, shipped: Catalog) -> list[str]:
    store = Store(db)
    runs = add_judged_runs(store, shipped, [
        {"scenario_id": SCEN, "model": "ollama:secret-a"},
        {"scenario_id": SCEN, "model": "ollama:secret-b"},
        {"scenario_id": "writing-tip-new-manager", "model": "ollama:secret-a"},
    ])
    add_judged_runs(store, shipped, [{"scenario_id": SCEN, "model": "ollama:other"}], batch_id="batch_2")
    add_judged_runs(store, shipped, [{"scenario_id": SCEN, "status": "error"}], batch_id="batch_3")
    store.close()
    return [r.run_id for r in runs]


def _fill(entry: dict[str, Any], value: int = 5) -> None:
    entry["scores"] = {c["id"]: min(value, c["max"]) for c in entry["rubric"]["criteria"]}


def test_export_then_apply_round_trip(tmp_path: Path, db_path: Path, shipped_catalog: Catalog,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run_ids = _seed(db_path, shipped_catalog)
    out = tmp_path / "pending.json"
    assert _cli(db_path, "--export", str(out), "--batch", "batch_t") == 0
    doc = json.loads(out.read_text())
    entries = doc["runs"]
    assert sorted(e["run_id"] for e in entries) == sorted(run_ids)
    assert "secret" not in out.read_text()  # blind: no model in the file
    code = next(e for e in entries if e["scenario_id"] == SCEN)
    crit = {c["id"]: c for c in code["rubric"]["criteria"]}
    assert code["rubric"]["id"] == "code-v1" and len(crit) == 6
    assert (crit["correctness"]["min"], crit["correctness"]["max"]) == (0, 20)
    assert crit["correctness"]["anchors"]["20"].startswith("Right for every input")
    assert set(code["scores"]) == set(crit) and all(v is None for v in code["scores"].values())
    assert code["prompt"].startswith("Write a Python function") and code["output"]
    assert code["notes"] == ""
    # fill two, leave the third empty (skipped, not refused)
    _fill(entries[0], 15)
    entries[0]["notes"] = "from a file"
    _fill(entries[1], 4)
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert _cli(db_path, "--apply", str(out), "--judge", "gina") == 0
    printed = capsys.readouterr()
    assert "stored 2 judgment(s) by gina" in printed.out and "skipped 1" in printed.out
    assert printed.err == ""
    store = Store(db_path)
    first = store.judgment_by(entries[0]["run_id"], "gina")
    assert first is not None and first.blind and first.notes == "from a file"
    assert first.total == sum(entries[0]["scores"].values())
    assert store.judgment_by(entries[2]["run_id"], "gina") is None
    store.close()
    # applying again replaces rather than doubles
    assert _cli(db_path, "--apply", str(out), "--judge", "gina") == 0
    store = Store(db_path)
    assert len([j for j in store.judgments(entries[0]["run_id"])]) == 1
    store.close()
    # only the untouched run is still pending; --all brings back everything that finished
    again = tmp_path / "again.json"
    assert _cli(db_path, "--export", str(again)) == 0
    assert {e["run_id"] for e in json.loads(again.read_text())["runs"]} == {
        entries[2]["run_id"], *[r for r in _batch_runs(db_path, "batch_2")]}
    assert _cli(db_path, "--export", str(again), "--all") == 0
    assert len(json.loads(again.read_text())["runs"]) == 4  # never the failed run


def _batch_runs(db: Path, batch_id: str) -> list[str]:
    store = Store(db)
    try:
        return [r.run_id for r in store.runs(batch_id)]
    finally:
        store.close()


def test_apply_refuses_bad_entries_one_line_each(tmp_path: Path, db_path: Path,
                                                 shipped_catalog: Catalog,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_ids = _seed(db_path, shipped_catalog)
    out = tmp_path / "pending.json"
    assert _cli(db_path, "--export", str(out), "--batch", "batch_t") == 0
    doc = json.loads(out.read_text())
    code = [e for e in doc["runs"] if e["scenario_id"] == SCEN]
    good, bad = code
    _fill(good, 10)
    _fill(bad, 10)
    bad["scores"]["correctness"] = 25
    missing = json.loads(json.dumps(good))
    del missing["scores"]["testing"]
    missing["run_id"] = bad["run_id"]
    entries: list[Any] = [
        good,                                                       # 0 stored
        bad,                                                        # 1 out of range
        {**good, "run_id": "run_nope"},                             # 2 unknown run
        "not an entry",                                             # 3 malformed
        {**good, "notes": 7},                                       # 4 notes not text (dup too)
        {"scores": {}},                                             # 5 no run id
        {**missing, "run_id": run_ids[2]},                          # 6 wrong rubric
        {**good, "run_id": bad["run_id"], "scores": {**good["scores"], "style": 3,
                                                     "testing": 2.5}},  # 7 dup of 1
    ]
    out.write_text(json.dumps({"runs": entries}))
    capsys.readouterr()
    remember_judge("hana")
    assert _cli(db_path, "--apply", str(out)) == 1
    printed = capsys.readouterr()
    lines = printed.err.strip().splitlines()
    assert len(lines) == 7, lines
    assert lines[0] == (f"refused entry 1 ({bad['run_id']}): scores.correctness: 25 is outside "
                        "0..20")
    assert lines[1] == "refused entry 2 (run_nope): run_id: no such run in " + str(db_path)
    assert lines[2] == "refused entry 3: expected an object, got str"
    assert lines[3] == f"refused entry 4 ({good['run_id']}): run_id: same run as entry 0"
    assert lines[4] == "refused entry 5: run_id: missing or not a string"
    assert lines[5].startswith(f"refused entry 6 ({run_ids[2]}): rubric: 'code-v1' is not")
    assert lines[6] == f"refused entry 7 ({bad['run_id']}): run_id: same run as entry 1"
    assert "stored 1 judgment(s) by hana; refused 7" in printed.out
    store = Store(db_path)
    stored = store.judgment_by(good["run_id"], "hana")
    assert stored is not None and stored.total == 60
    assert store.judgment_by(bad["run_id"], "hana") is None
    store.close()


def test_apply_field_problems(tmp_path: Path, db_path: Path, shipped_catalog: Catalog,
                              capsys: pytest.CaptureFixture[str]) -> None:
    run_ids = _seed(db_path, shipped_catalog)
    scores = {"correctness": 10, "structure": 10, "performance": 10, "best_practices": 10,
              "documentation": 10}
    entries = [
        {"run_id": run_ids[0], "scores": {**scores, "style": 1, "testing": 2.5}},
        {"run_id": run_ids[1], "scores": scores, "notes": 3},
        {"run_id": run_ids[2], "scores": "lots"},
    ]
    out = tmp_path / "f.json"
    out.write_text(json.dumps(entries))  # a bare list is accepted too
    assert _cli(db_path, "--apply", str(out), "--judge", "ivy") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == (f"refused entry 0 ({run_ids[0]}): scores.style: not a criterion of "
                        "code-v1; scores.testing: 2.5 is not a whole number")
    assert lines[1] == f"refused entry 1 ({run_ids[1]}): notes: expected text"
    assert lines[2] == (f"refused entry 2 ({run_ids[2]}): scores: expected an object of "
                        "criterion -> number")
    entries[1]["notes"] = ""
    out.write_text(json.dumps(entries[1:2]))
    assert _cli(db_path, "--apply", str(out), "--judge", "ivy") == 1
    assert capsys.readouterr().err.strip() == (
        f"refused entry 0 ({run_ids[1]}): scores.testing: not set")


def test_a_file_that_is_not_json(tmp_path: Path, db_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "scores.json"
    bad.write_text('{"runs": [\n  {"run_id": "x",}\n]}')
    assert _cli(db_path, "--apply", str(bad), "--judge", "jo") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"tui-bench: {bad} is not valid JSON: line 2, column 18")
    bad.write_text('"just a string"')
    assert _cli(db_path, "--apply", str(bad), "--judge", "jo") == 1
    assert "expected an object with \"runs\"" in capsys.readouterr().err
    assert _cli(db_path, "--apply", str(tmp_path / "missing.json"), "--judge", "jo") == 1
    assert "cannot read" in capsys.readouterr().err


def test_apply_needs_a_judge_and_export_a_known_batch(tmp_path: Path, db_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.json"
    f.write_text("[]")
    assert _cli(db_path, "--apply", str(f)) == 1
    assert "--judge NAME" in capsys.readouterr().err
    assert _cli(db_path, "--export", str(f), "--batch", "nope") == 1
    assert "no batch 'nope'" in capsys.readouterr().err
