"""Agreement figures on data with known answers, and "n/a" where there is nothing to measure."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import CODE_V1, WRITING, judgment
from tui_bench.analysis.agreement import (
    TOTAL,
    figure,
    krippendorff_alpha_interval,
    quadratic_kappa,
    rubric_agreement,
    score_units,
)

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example with
# four observers, twelve units and missing values. Published: alpha (interval) = 0.849.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
}


def test_alpha_interval_matches_the_published_example() -> None:
    units = list(zip(*KRIPPENDORFF_2011.values()))
    assert krippendorff_alpha_interval(units) == pytest.approx(0.849, abs=5e-4)


def test_alpha_from_a_unit_judge_table() -> None:
    table = {f"u{i}": {judge: values[i] for judge, values in KRIPPENDORFF_2011.items()}
             for i in range(12)}
    assert krippendorff_alpha_interval(score_units(table)) == pytest.approx(0.849, abs=5e-4)


def test_alpha_perfect_agreement_is_one_and_no_variation_is_undefined() -> None:
    assert krippendorff_alpha_interval([(1, 1), (5, 5), (3, 3, 3)]) == pytest.approx(1.0)
    assert krippendorff_alpha_interval([(4, 4), (4, 4)]) is None  # nothing varies: 0/0
    assert krippendorff_alpha_interval([(1, None), (None, 2)]) is None  # nothing pairable
    assert krippendorff_alpha_interval([]) is None


def test_alpha_systematic_disagreement_is_negative() -> None:
    assert krippendorff_alpha_interval([(0, 10), (10, 0), (0, 10), (10, 0)]) < 0


def test_quadratic_kappa_by_hand() -> None:
    # x = 0 1 2 2, y = 0 2 2 1: sum (x-y)^2 = 2; sum_ij (x_i - y_j)^2 = 22; kappa = 1 - 4*2/22
    assert quadratic_kappa([(0, 0), (1, 2), (2, 2), (2, 1)]) == pytest.approx(7 / 11)
    assert quadratic_kappa([(3, 3), (7, 7), (1, 1)]) == pytest.approx(1.0)
    assert quadratic_kappa([(5, 5)]) is None  # one pair says nothing
    assert quadratic_kappa([(5, 5), (5, 5)]) is None  # no chance disagreement: undefined


def test_figure_says_na_rather_than_a_number() -> None:
    assert figure(None, 1) == "n/a (n=1)"
    assert figure(0.8491, 11) == "0.85 (n=11)"


def _scores(c: int, s: int, p: int = 10, b: int = 10, d: int = 10, t: int = 5) -> dict[str, int]:
    return {"correctness": c, "structure": s, "performance": p, "best_practices": b,
            "documentation": d, "testing": t}


def test_rubric_agreement_people_and_model() -> None:
    ids = [c.id for c in CODE_V1.criteria]
    js = []
    # Three runs; alice and bob agree exactly on correctness; the model is always 5 higher.
    for i, (c, s) in enumerate([(10, 12), (15, 8), (20, 16)]):
        run = f"r{i}"
        js.append(judgment(run, "alice", _scores(c, s)))
        js.append(judgment(run, "bob", _scores(c, s + 2 * (i % 2))))
        js.append(judgment(run, "judge-llm", _scores(min(20, c + 5), s), kind="model"))
    report = rubric_agreement(js, ids, rubric_id="code-v1")
    rows = {r.criterion: r for r in report.rows}
    assert report.people == ["alice", "bob"] and report.model_judge == "judge-llm"
    assert rows["correctness"].people_alpha == pytest.approx(1.0)
    assert rows["correctness"].people_runs == 3
    assert rows["correctness"].model_runs == 3
    # model (15, 20, 20) against people's mean (10, 15, 20), computed by the formula by hand:
    # sum (x-y)^2 = 50; sum_ij (x_i-y_j)^2 = 3*1025 + 3*725 - 2*55*45 = 300; kappa = 1 - 150/300
    assert rows["correctness"].model_kappa == pytest.approx(0.5)
    # performance never varies: agreement is undefined, not 1 and not 0
    assert rows["performance"].people_alpha is None
    assert rows["performance"].model_kappa is None
    assert rows[TOTAL].people_runs == 3


def test_rubric_agreement_not_enough_data() -> None:
    js = [judgment("r0", "alice", _scores(10, 10)), judgment("r0", "bob", _scores(12, 10)),
          judgment("r1", "alice", _scores(5, 5))]
    report = rubric_agreement(js, [c.id for c in CODE_V1.criteria])
    row = report.rows[0]
    assert row.people_runs == 1 and row.people_alpha is None  # one run is not a measurement
    assert row.model_runs == 0 and row.model_kappa is None and row.model_alpha is None
    assert report.model_judge is None


def test_rubric_agreement_uses_each_judges_latest_and_the_rubric_asked_for() -> None:
    first = judgment("r0", "alice", _scores(0, 0))
    first.judgment_id = 1
    later = judgment("r0", "alice", _scores(10, 10))
    later.judgment_id = 2
    other = judgment("r0", "bob", {"clarity": 3, "accuracy": 4}, rubric=WRITING)
    bob = judgment("r0", "bob", _scores(10, 10))
    bob.judgment_id = 3
    report = rubric_agreement([first, later, other, bob], ["correctness"], rubric_id="code-v1")
    assert report.people == ["alice", "bob"]
    assert report.rows[0].people_runs == 1


def test_analysis_does_not_import_textual() -> None:
    import tui_bench.analysis.agreement
    import tui_bench.analysis.pairwise  # noqa: F401

    for name in ("tui_bench.analysis.agreement", "tui_bench.analysis.pairwise"):
        module = sys.modules[name]
        assert "textual" not in module.__dict__ and "rich" not in module.__dict__
    source = "".join(open(sys.modules[n].__file__ or "").read() for n in
                     ("tui_bench.analysis.agreement", "tui_bench.analysis.pairwise"))
    assert "import textual" not in source and "from textual" not in source
    assert "import rich" not in source and "from rich" not in source
