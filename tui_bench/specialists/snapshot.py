"""The snapshot: a template together with the benchmark evidence for what it buys.

The pydantic ``Snapshot`` model is the single definition; ``schemas/snapshot.schema.json`` is
generated from it (``snapshot_json_schema``) and committed, so other tools can check a snapshot
without tui-bench. Before a snapshot is written it passes both pydantic and that JSON Schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from tui_bench.domain import Evaluation, Telemetry
from tui_bench.locations import snapshot_schema_path
from tui_bench.specialists.templates import Template

SNAPSHOT_FORMAT = "tui-bench.snapshot/1"
SCHEMA_ID = "urn:tui-bench:schema:snapshot:1"
SCHEMA_PATH = snapshot_schema_path()


class Record(BaseModel):
    """Parts of a snapshot: unknown fields are an error, so the schema stays closed."""

    model_config = ConfigDict(extra="forbid")


class SnapshotRun(Record):
    """One run of the batch, as the snapshot carries it. The field names are those of the
    specialist snapshot format ze-benchmarks users read (``run_id``, ``suite``, ``scenario``,
    ``tier``, ``agent``, ``overall_score``, ``specialist_enabled``); tui-bench's own figures
    sit beside them."""

    run_id: str
    suite: str | None = Field(description="the test suite the scenario belongs to")
    scenario: str
    tier: str
    agent: str = Field(description="the model that answered, as backend:name")
    prompt_version: str
    iteration: int
    specialist_enabled: bool = Field(
        description="true when the template's persona was the system prompt")
    template: str | None = Field(default=None, description="the specialist value the run used")
    status: str
    overall_score: float | None = Field(description="weighted evaluator mean, 0..1")
    success: bool | None
    error: str | None = None
    evaluations: list[Evaluation]
    telemetry: Telemetry
    started_at: str
    finished_at: str | None = None


class Figures(Record):
    """Baseline against specialist over one set of runs; ``None`` where nothing was measured."""

    baseline_runs: int
    specialist_runs: int
    baseline_scored: int
    specialist_scored: int
    baseline_avg_score: float | None
    specialist_avg_score: float | None
    baseline_success_rate: float | None = None
    specialist_success_rate: float | None = None
    improvement: float | None = Field(
        description="specialist average score minus baseline average score")
    improvement_pct: float | None = Field(
        description="improvement as a percentage of the baseline average score")
    notes: list[str] = Field(default_factory=list,
                             description="why a figure is missing, said in words")


class ModelCompared(Record):
    """One model's baseline against specialist, as ``models_compared`` lists it."""

    model: str
    baseline_score: float | None
    specialist_score: float | None
    improvement: float | None


class Comparison(Figures):
    """The whole batch, and the same per model."""

    models_compared: list[ModelCompared] = Field(default_factory=list)
    per_model: dict[str, Figures] = Field(default_factory=dict)


class PairedFigures(Record):
    """Specialist against baseline on the same cells: is the difference more than noise?"""

    pairs: int = Field(description="cells run both with and without the specialist")
    scored_pairs: int = Field(description="of those, cells with a score on both sides")
    baseline_only: int = Field(description="cells that passed only without the specialist")
    specialist_only: int = Field(description="cells that passed only with the specialist")
    mcnemar_p: float | None = Field(
        default=None, description="McNemar's exact two-sided p-value on the pass/fail flips")
    mean_change: float | None = Field(
        default=None, description="mean score change, specialist minus baseline")
    change_low: float | None = Field(default=None, description="bootstrap interval, low end")
    change_high: float | None = Field(default=None, description="bootstrap interval, high end")
    level: float = Field(default=0.95, description="confidence level of the interval")


class Benchmarks(Record):
    """The evidence: which suites and runs, and what the persona changed."""

    batch_id: str
    test_suites: list[str]
    scenarios: list[str]
    models: list[str]
    runs: list[SnapshotRun]
    comparison: Comparison
    excluded_runs: int = Field(default=0, description="runs of other specialists left out")
    paired: PairedFigures | None = Field(
        default=None, description="paired statistics over the cells run both ways")


class SnapshotMetadata(Record):
    """Who minted the snapshot, when, from what."""

    format: str = SNAPSHOT_FORMAT
    created_at: str
    minted_by: str
    template_version: str
    template_source: str
    template_kind: str
    batch_id: str
    tool_version: str


class Snapshot(Template):
    """Everything from the template, plus ``benchmarks`` and ``snapshot_metadata``."""

    benchmarks: Benchmarks
    snapshot_metadata: SnapshotMetadata


def snapshot_json_schema() -> dict[str, Any]:
    """The published JSON Schema, generated from ``Snapshot`` (what the committed file holds)."""
    schema = Snapshot.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema}


def schema_text() -> str:
    """The schema file's exact text, so a test can compare it with the committed one."""
    return json.dumps(snapshot_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate ``schemas/snapshot.schema.json`` after changing the model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


def published_schema() -> dict[str, Any]:
    """The committed schema when this is a checkout, else the generated one (same content)."""
    if SCHEMA_PATH.is_file():
        return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return snapshot_json_schema()


# --------------------------------------------------------------------------- checking


def schema_problems(instance: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Where ``instance`` breaks the JSON Schema (2020-12, checked by ``jsonschema``).

    One line per problem, led by the path of the field; empty when it conforms.
    """
    validator = jsonschema.Draft202012Validator(schema or published_schema())
    problems: list[str] = []
    for err in validator.iter_errors(instance):
        where = "/".join(str(p) for p in err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for name in err.validator_value:
                line = f"{where + '/' if where else ''}{name}: required field is missing"
                if name not in err.instance and line not in problems:
                    problems.append(line)
            continue
        problems.append(f"{where or '(top level)'}: {err.message}")
    return problems
