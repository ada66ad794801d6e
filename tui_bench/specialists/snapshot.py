"""The snapshot: a template together with the benchmark evidence for what it buys.

The pydantic ``Snapshot`` model is the single definition; ``schemas/snapshot.schema.json`` is
generated from it (``snapshot_json_schema``) and committed, so other tools can check a snapshot
without tui-bench. Before a snapshot is written it passes both pydantic and that JSON Schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tui_bench.domain import Evaluation, Telemetry
from tui_bench.locations import PROJECT_ROOT
from tui_bench.specialists.templates import Template

SNAPSHOT_FORMAT = "tui-bench.snapshot/1"
SCHEMA_ID = "urn:tui-bench:schema:snapshot:1"
SCHEMA_PATH = PROJECT_ROOT / "schemas" / "snapshot.schema.json"


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


class Benchmarks(Record):
    """The evidence: which suites and runs, and what the persona changed."""

    batch_id: str
    test_suites: list[str]
    scenarios: list[str]
    models: list[str]
    runs: list[SnapshotRun]
    comparison: Comparison
    excluded_runs: int = Field(default=0, description="runs of other specialists left out")


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
    """Where ``instance`` breaks the JSON Schema; empty when it conforms.

    Uses ``jsonschema`` when it is installed (it is not a dependency); otherwise a small checker
    of the keywords the generated schema uses: ``$ref``, ``type``, ``required``, ``properties``,
    ``additionalProperties``, ``items``, ``anyOf``, ``enum``, ``const`` and ``minLength``.
    """
    schema = schema or published_schema()
    try:
        import jsonschema  # type: ignore[import-not-found]
    except ImportError:
        return _Checker(schema).problems(instance)
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(str(p) for p in err.absolute_path) or '(top level)'}: {err.message}"
            for err in validator.iter_errors(instance)]


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


class _Checker:
    """Just enough JSON Schema (2020-12) for the schemas pydantic generates."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def problems(self, instance: Any) -> list[str]:
        out: list[str] = []
        self._check(instance, self.root, "", out)
        return out

    def _deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"cannot follow $ref {ref!r}")
            node: Any = self.root
            for part in ref[2:].split("/"):
                node = node[part]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def _type_ok(self, instance: Any, name: str) -> bool:
        if name in ("integer", "number") and isinstance(instance, bool):
            return False
        if name == "integer" and isinstance(instance, float):
            return instance.is_integer()
        return isinstance(instance, _TYPES.get(name, (object,)))

    def _check(self, instance: Any, schema: dict[str, Any], where: str, out: list[str]) -> None:
        schema = self._deref(schema)
        here = where or "(top level)"
        if "anyOf" in schema and all(self._sub(instance, option, where)
                                     for option in schema["anyOf"]):
            out.append(f"{here}: matches none of the allowed shapes")
            return
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(self._type_ok(instance, n) for n in names):
                out.append(f"{here}: expected {' or '.join(names)}, got {type(instance).__name__}")
                return
        if "const" in schema and instance != schema["const"]:
            out.append(f"{here}: must be {schema['const']!r}")
        if "enum" in schema and instance not in schema["enum"]:
            out.append(f"{here}: must be one of {schema['enum']!r}")
        if isinstance(instance, str) and len(instance) < schema.get("minLength", 0):
            out.append(f"{here}: shorter than {schema['minLength']} characters")
        if isinstance(instance, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in instance:
                    out.append(f"{where + '/' if where else ''}{name}: required field is missing")
            extra = schema.get("additionalProperties", True)
            for key, value in instance.items():
                path = f"{where}/{key}" if where else key
                if key in props:
                    self._check(value, props[key], path, out)
                elif extra is False:
                    out.append(f"{path}: unknown field")
                elif isinstance(extra, dict):
                    self._check(value, extra, path, out)
        if isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(instance):
                self._check(item, schema["items"], f"{where}[{index}]", out)

    def _sub(self, instance: Any, schema: dict[str, Any], where: str) -> list[str]:
        out: list[str] = []
        self._check(instance, schema, where, out)
        return out
