"""Property-based bad input: malformed scenarios, templates, judgment files and flags.

Each must end in a clear message (the file, field or flag named), never a traceback, and must
leave what is already stored exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SCENARIOS
from tui_bench.catalog import load_catalog
from tui_bench.cli import main
from tui_bench.domain import BatchSpec, Judgment, RunRecord
from tui_bench.store import Store

GOOD = (SCENARIOS / "coding" / "coding-fizzbuzz.yaml").read_text()
FIELDS = ["id", "name", "suite", "category", "prompt", "tiers", "evaluators", "threshold",
          "rubric", "complexity", "tests", "expected_elements", "max_tokens", "oracle"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the CLI in process; an exception escaping it fails the test by itself."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@FAST
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_a_scenario_with_any_bad_field_is_named_and_the_rest_load(tmp_path_factory, field: str,
                                                                   value: object) -> None:
    folder = tmp_path_factory.mktemp("scen")
    (folder / "rubrics").mkdir()
    for rubric in (SCENARIOS / "rubrics").glob("*.yaml"):
        (folder / "rubrics" / rubric.name).write_text(rubric.read_text())
    (folder / "good.yaml").write_text(GOOD)
    data = yaml.safe_load(GOOD)
    data["id"] = "coding-mutant"
    data[field] = value
    (folder / "mutant.yaml").write_text(yaml.safe_dump(data))
    catalog = load_catalog([folder])
    assert catalog.scenarios["coding-fizzbuzz"].source.endswith("good.yaml")
    loaded = any((s.source or "").endswith("mutant.yaml") for s in catalog.scenarios.values())
    if not loaded:
        problems = [p for p in catalog.problems if p.path.endswith("mutant.yaml")]
        assert problems, "a refused file always says why"
        assert all(p.message for p in problems)


@FAST
@given(text=st.text(max_size=300))
def test_any_text_as_a_scenario_file_never_raises(tmp_path_factory, text: str) -> None:
    folder = tmp_path_factory.mktemp("scen")
    (folder / "junk.yaml").write_text(text, encoding="utf-8")
    catalog = load_catalog([folder])
    for problem in catalog.problems:
        assert "junk.yaml" in str(problem) or "rubric" in str(problem)


@FAST
@given(text=st.text(max_size=300) | json_values.map(json.dumps))
def test_any_text_as_a_template_is_a_template_error(tmp_path_factory, text: str) -> None:
    from tui_bench.specialists.templates import TemplateError, load_template

    path = tmp_path_factory.mktemp("tpl") / "broken.json5"
    path.write_text(text, encoding="utf-8")
    try:
        load_template(path)
    except TemplateError as exc:
        assert "broken.json5" in str(exc)


@pytest.fixture
def judged_db(tmp_path: Path) -> Path:
    """A database with one run and one judgment by alice, to prove nothing of it changes."""
    db = tmp_path / "judge.db"
    store = Store(db)
    store.save_batch(BatchSpec(batch_id="b1", models=["embedded:smollm2"],
                               scenarios=["coding-fizzbuzz"]), 1)
    store.save_run(RunRecord(run_id="run_1", batch_id="b1", model="embedded:smollm2",
                             prompt_version="v1", scenario_id="coding-fizzbuzz", tier="L2",
                             output="def fizzbuzz(n): return []", auto_score=0.2, success=False))
    store.save_judgment(Judgment(run_id="run_1", judge="alice", rubric_id="code-v1",
                                 scores={"correctness": 10}, total=10, percent=10.0,
                                 band="reference only"))
    store.close()
    return db


def snapshot(db: Path) -> tuple[list, list]:
    store = Store(db)
    try:
        return (store.query("SELECT * FROM runs ORDER BY run_id"),
                store.query("SELECT * FROM judgments WHERE judge = 'alice'"))
    finally:
        store.close()


@FAST
@given(document=json_values | st.lists(st.fixed_dictionaries(
    {"run_id": st.sampled_from(["run_1", "run_404", ""]) | st.text(max_size=8),
     "scores": st.dictionaries(st.sampled_from(["correctness", "structure", "testing", "x"]),
                               json_values, max_size=6)}), max_size=4))
def test_any_judgment_file_is_refused_entry_by_entry(tmp_path_factory, judged_db: Path,
                                                     document: object) -> None:
    before = snapshot(judged_db)
    path = tmp_path_factory.mktemp("j") / "scores.json"
    path.write_text(json.dumps(document))
    code, out, err = run_cli("judge", "--apply", str(path), "--judge", "fuzzer", "--db",
                             str(judged_db))
    assert code in (0, 1)
    assert "Traceback" not in out + err
    if code == 1:
        assert err.strip(), "a refusal says why"
    assert snapshot(judged_db) == before


def test_a_judgment_file_that_is_not_json_names_the_place(tmp_path: Path,
                                                          judged_db: Path) -> None:
    path = tmp_path / "scores.json"
    path.write_text('{"runs": [ {"run_id": "run_1",, } ]}')
    code, _, err = run_cli("judge", "--apply", str(path), "--judge", "x", "--db", str(judged_db))
    assert code == 1 and "scores.json is not valid JSON: line 1, column" in err


flag_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@FAST
@given(flag=st.sampled_from(["--tier", "--models", "--iterations", "--temperature",
                             "--batch-id", "--max-tokens", "--mode", "--concurrency", "--seed",
                             "--suite", "--scenarios", "--prompt-version", "--top-p",
                             "--fail-under"]),
       value=flag_values)
def test_any_flag_value_gets_a_plain_answer(tmp_path_factory, flag: str, value: str) -> None:
    db = tmp_path_factory.mktemp("cli") / "cli.db"
    gguf = str(db.parent / "missing.gguf")
    args = ["--run", "-q", "--db", str(db), "--models", f"embedded:{gguf}", "--scenarios",
            "coding-safe-add", "--retries", "0", flag, value]
    if flag == "--models":
        args = args[:6] + args[8:]  # the flag under test names the models itself
    code, out, err = run_cli(*args)
    assert "Traceback" not in out + err
    assert code in (0, 1, 2)
    if code == 2:
        assert err.strip()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "a/../../b", "..", "x\x00y"])
def test_path_traversal_in_template_names_is_refused(tmp_path: Path, name: str) -> None:
    code, out, err = run_cli("--run", "--db", str(tmp_path / "t.db"), "--specialist", name,
                             "--scenarios", "coding-safe-add")
    assert code == 2 and "Traceback" not in out + err
    assert not (tmp_path / "t.db").exists() or Store(tmp_path / "t.db").count_batches() == 0
