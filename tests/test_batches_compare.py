"""Two batches cell by cell: score changes, flips, tokens/s changes, one-sided cells."""

from __future__ import annotations

import pytest

from tests.conftest import add_batch, at, run
from tui_bench.analysis.compare import compare_batches
from tui_bench.store import Store

M1, M2 = "ollama:m1", "ollama:m2"


def _pair(store: Store) -> None:
    add_batch(store, "before", [
        run("before", M1, "s1", 0.5, tps=10.0),          # fixed: 0.5 fail -> 0.9 pass
        run("before", M1, "s2", 0.9, tps=20.0),          # broke: pass -> error
        run("before", M2, "s1", 0.8, tps=30.0),          # same within 0.01
        run("before", M2, "s2", 0.3),                    # improved, still failing
        run("before", M2, "s3", 0.4),                    # only before
    ], created_at=at(1))
    add_batch(store, "after", [
        run("after", M1, "s1", 0.9, tps=15.0),
        run("after", M1, "s2", None, status="error"),
        run("after", M2, "s1", 0.805, tps=24.0),
        run("after", M2, "s2", 0.5),
        run("after", M2, "s4", 0.4),                     # only after
    ], created_at=at(2))


def test_cells_flips_and_changes(store: Store) -> None:
    _pair(store)
    comparison = compare_batches(store, "before", "after")
    cells = {(c.model, c.scenario_id): c for c in comparison.cells}
    assert set(cells) == {(M1, "s1"), (M1, "s2"), (M2, "s1"), (M2, "s2")}
    fixed = cells[(M1, "s1")]
    assert (fixed.flip, fixed.verdict()) == ("fixed", "improved")
    assert fixed.score_change == pytest.approx(0.4) and fixed.tps_change == pytest.approx(5.0)
    broke = cells[(M1, "s2")]
    assert (broke.flip, broke.verdict(), broke.status_after) == ("broke", "regressed", "error")
    assert broke.score_change is None and broke.tps_change is None
    same = cells[(M2, "s1")]
    assert (same.flip, same.verdict()) == (None, "same")
    assert same.tps_change == pytest.approx(-6.0)
    better = cells[(M2, "s2")]
    assert (better.flip, better.verdict()) == (None, "improved")
    assert comparison.only_before == [(M2, "v1", "s3", "L2", "", 1, "")]
    assert comparison.only_after == [(M2, "v1", "s4", "L2", "", 1, "")]


def test_summary_and_per_model(store: Store) -> None:
    _pair(store)
    comparison = compare_batches(store, "before", "after")
    s = comparison.summary
    assert (s.cells, s.improved, s.regressed, s.same, s.fixed, s.broke) == (4, 2, 1, 1, 1, 1)
    # means over the three cells scored on both sides
    assert s.mean_before == pytest.approx((0.5 + 0.8 + 0.3) / 3)
    assert s.mean_after == pytest.approx((0.9 + 0.805 + 0.5) / 3)
    assert (s.success_before, s.success_after) == (0.5, 0.5)
    assert s.tps_change == pytest.approx((5.0 - 6.0) / 2)
    per = comparison.per_model()
    assert (per[M1].fixed, per[M1].broke, per[M1].mean_change) == (1, 1, pytest.approx(0.4))
    assert (per[M2].improved, per[M2].same) == (1, 1)
    data = comparison.to_dict()
    assert data["summary"]["fixed"] == 1 and len(data["cells"]) == 4
    assert {c["verdict"] for c in data["cells"]} == {"improved", "regressed", "same"}


def test_missing_batch_raises(store: Store) -> None:
    _pair(store)
    with pytest.raises(KeyError):
        compare_batches(store, "before", "nope")
