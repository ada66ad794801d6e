"""Domain objects shared by every layer: scenarios, rubrics, the grid and its results.

These are pydantic models so that files from disk are validated once, at the edge, and every
other module can trust the shapes it is handed. Nothing here touches SQL, the network or a UI.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Prompt tiers: how much guidance the prompt gives, from a bare ask to a full specification.
TIERS: dict[str, str] = {
    "L0": "minimal",
    "L1": "brief",
    "L2": "standard",
    "L3": "detailed",
}
DEFAULT_TIER = "L2"
DEFAULT_PROMPT_VERSION = "v1"
DEFAULT_THRESHOLD = 0.7
Mode = Literal["zero-shot", "iterative", "comparative", "refine"]
MODES: tuple[Mode, ...] = get_args(Mode)
EffortLevel = Literal["low", "medium", "high"]
EFFORT_LEVELS: tuple[EffortLevel, ...] = get_args(EffortLevel)
RunStatus = Literal["ok", "error", "cancelled"]
JudgeKind = Literal["person", "model"]
# A pairwise verdict: which of two answers is better, if either.
PairVerdict = Literal["left", "right", "tie", "both_bad"]
PAIR_VERDICTS: tuple[PairVerdict, ...] = get_args(PairVerdict)

BANDS: list[tuple[int, str]] = [
    (90, "production-ready"),
    (80, "very good"),
    (70, "good"),
    (60, "acceptable"),
    (0, "reference only"),
]


def utc_now() -> str:
    """ISO-8601 timestamp in UTC; stored as text so any SQLite tool can read it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def band_for(percent: float) -> str:
    """The quality band for a judged total expressed as a percentage of the rubric maximum."""
    for floor, name in BANDS:
        if percent >= floor:
            return name
    return BANDS[-1][1]


class Strict(BaseModel):
    """Base for objects read from files: unknown fields are an error, so typos get caught."""

    model_config = ConfigDict(extra="forbid", frozen=False)


# --------------------------------------------------------------------------- rubrics


class Criterion(Strict):
    """One axis of a rubric, with anchors that pin what a score means across sessions."""

    id: str
    name: str
    min: int = 0
    max: int
    description: str = ""
    anchors: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_range(self) -> Criterion:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        for score in self.anchors:
            if not self.min <= score <= self.max:
                raise ValueError(f"anchor {score} is outside {self.min}..{self.max}")
        return self

    def anchor_for(self, value: int) -> str:
        """The anchor text for the nearest anchored score at or below ``value``."""
        below = [s for s in self.anchors if s <= value]
        if not below:
            return ""
        return self.anchors[max(below)]


class Rubric(Strict):
    """A set of criteria a person or a model fills in to judge one run."""

    id: str
    name: str
    version: int = 1
    description: str = ""
    criteria: list[Criterion]

    @field_validator("criteria")
    @classmethod
    def _non_empty(cls, value: list[Criterion]) -> list[Criterion]:
        if not value:
            raise ValueError("a rubric needs at least one criterion")
        ids = [c.id for c in value]
        if len(set(ids)) != len(ids):
            raise ValueError("criterion ids must be unique")
        return value

    @property
    def max_total(self) -> int:
        return sum(c.max for c in self.criteria)

    @property
    def min_total(self) -> int:
        return sum(c.min for c in self.criteria)

    def percent(self, scores: dict[str, int]) -> float:
        """A total as a share of the rubric's range, 0..100, comparable across rubrics."""
        span = self.max_total - self.min_total
        got = sum(scores.values()) - self.min_total
        return 100.0 * got / span if span else 0.0

    def validate_scores(self, scores: dict[str, Any]) -> list[str]:
        """Problems with a filled-in score sheet, one message each; empty when it is valid."""
        problems: list[str] = []
        known = {c.id: c for c in self.criteria}
        for key in scores:
            if key not in known:
                problems.append(f"unknown criterion {key!r}")
        for crit in self.criteria:
            if crit.id not in scores or scores[crit.id] is None:
                problems.append(f"criterion {crit.id!r} is not set")
                continue
            value = scores[crit.id]
            whole = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not whole or value != int(value):
                problems.append(f"criterion {crit.id!r}: {value!r} is not a whole number")
            elif not crit.min <= value <= crit.max:
                problems.append(f"criterion {crit.id!r}: {value} is outside {crit.min}..{crit.max}")
        return problems


# --------------------------------------------------------------------------- scenarios


class EvaluatorSpec(Strict):
    """An evaluator a scenario asks for, with its weight in the automatic score."""

    name: str
    weight: float = Field(default=1.0, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)


class OracleAnswer(Strict):
    """An answer the output must contain, and how strictly to compare it."""

    answer: str
    match: Literal["exact", "normalised", "numeric"] = "normalised"
    tolerance: float = 1e-6
    pattern: str | None = None  # regex with one group that extracts the candidate answer


class PromptVariant(Strict):
    """A named prompt version of a scenario: a rewording to compare against the original."""

    prompt: str | None = None
    system: str | None = None


# --------------------------------------------------------------------------- agent scenarios


AgentTool = Literal["read_file", "write_file", "list_directory", "run_command", "ask_user"]
AGENT_TOOLS: tuple[AgentTool, ...] = get_args(AgentTool)
ScenarioKind = Literal["prompt", "agent"]


class CannedReply(Strict):
    """What ``ask_user`` answers: the first reply whose ``when`` occurs in the question.

    ``when`` is matched case-insensitively as a substring; a reply without ``when`` is the
    default, used when no other matches.
    """

    when: str | None = None
    reply: str


class ValidationCommand(Strict):
    """A check run in the workspace after the agent stops; it passes when it exits 0."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    run: str  # split with shlex, run in the sandbox with the workspace as working folder
    timeout_s: float = Field(default=60, gt=0, le=600)
    # The task says this must be fixed: the untouched fixture fails it (checked at warmup).
    fixed_by_task: bool = True


class OracleFact(Strict):
    """One expected fact about the final workspace (see ``AgentSpec.oracle``).

    kinds: ``file_contains``/``file_lacks`` (path, text), ``file_equals`` (path, text),
    ``file_exists``/``file_absent`` (path), ``config_value`` (path to a JSON, YAML, TOML or INI
    file, dotted ``key``, ``value``), ``python`` (``module`` importable from the workspace,
    ``expr`` evaluated with that module's names, ``expected`` literal; runs in the sandbox).
    """

    kind: Literal["file_contains", "file_lacks", "file_equals", "file_exists", "file_absent",
                  "config_value", "python"]
    path: str | None = None
    text: str | None = None
    key: str | None = None
    value: Any = None
    module: str | None = None
    expr: str | None = None
    expected: Any = None
    note: str = ""


class AgentSpec(Strict):
    """How an agent scenario runs: a fixture repository, tools, limits and the checks after.

    Paths (``fixture``, ``oracle``, ``reference_patch``) are relative to the scenario file.
    """

    fixture: str
    tools: list[AgentTool] = Field(default_factory=lambda: list(AGENT_TOOLS))
    max_turns: int = Field(default=12, ge=1, le=200)
    token_budget: int = Field(default=16_000, gt=0)
    command_timeout_s: float = Field(default=30, gt=0, le=600)
    ask_user: list[CannedReply] = Field(default_factory=list)
    validation_commands: list[ValidationCommand] = Field(min_length=1)
    oracle: str | None = None  # YAML file: ``facts: [OracleFact, ...]``
    scope: list[str] = Field(default_factory=list)  # globs the task may change; empty: any
    reference_patch: str | None = None  # unified diff against the fixture that passes


class Scenario(Strict):
    """One task put to a model, with everything needed to score what comes back."""

    # No spaces, commas or colons: ids are typed in comma lists and ``suite:0-10`` ranges.
    id: str = Field(pattern=r"^[^\s,:]+$")
    name: str
    suite: str
    category: str
    prompt: str
    tiers: dict[str, str] = Field(default_factory=dict)
    versions: dict[str, PromptVariant] = Field(default_factory=dict)
    system: str | None = None
    expected_elements: list[str] = Field(default_factory=list)
    evaluators: list[EvaluatorSpec] = Field(
        default_factory=lambda: [EvaluatorSpec(name="expected_elements")]
    )
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    rubric: str = "code-v1"
    complexity: Literal["low", "medium", "high"] = "medium"
    language: str = "python"
    tests: str | None = None  # Python source: test_* functions and/or check(candidate)
    entry_point: str | None = None  # the function the tests call
    reference_solution: str | None = None  # a known-good answer, used to prove the tests
    oracle: list[OracleAnswer] = Field(default_factory=list)
    max_tokens: int | None = Field(default=None, gt=0)
    tags: list[str] = Field(default_factory=list)
    source: str | None = None  # file it was loaded from; not part of the definition hash
    kind: ScenarioKind = "prompt"
    agent: AgentSpec | None = None  # required when kind is "agent"

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: dict[str, str]) -> dict[str, str]:
        normalised: dict[str, str] = {}
        for key, text in value.items():
            tier = normalise_tier(key)
            normalised[tier] = text
        return normalised

    @field_validator("id")
    @classmethod
    def _visible_id(cls, value: str) -> str:
        # A zero-width or control character makes two ids that look the same differ.
        hidden = [c for c in value if unicodedata.category(c).startswith("C")]
        if hidden:
            names = ", ".join(f"U+{ord(c):04X}" for c in hidden)
            raise ValueError(f"id holds invisible character(s) {names}")
        return value

    @field_validator("evaluators")
    @classmethod
    def _some_evaluator(cls, value: list[EvaluatorSpec]) -> list[EvaluatorSpec]:
        if not value:
            raise ValueError("a scenario needs at least one evaluator")
        return value

    @model_validator(mode="after")
    def _agent_has_spec(self) -> Scenario:
        if self.kind == "agent" and self.agent is None:
            raise ValueError("kind: agent needs an 'agent' block (fixture, validation_commands)")
        if self.kind != "agent" and self.agent is not None:
            raise ValueError("an 'agent' block needs kind: agent")
        return self

    def prompt_for(self, tier: str = DEFAULT_TIER, version: str = DEFAULT_PROMPT_VERSION) -> str:
        """The user prompt for a tier and prompt version, falling back to the base prompt."""
        variant = self.versions.get(version)
        if variant and variant.prompt:
            return variant.prompt
        return self.tiers.get(normalise_tier(tier), self.prompt)

    def system_for(self, version: str = DEFAULT_PROMPT_VERSION) -> str | None:
        variant = self.versions.get(version)
        if variant and variant.system is not None:
            return variant.system
        return self.system

    def definition(self) -> dict[str, Any]:
        """The scenario as data, without where it came from: what gets stored with each run."""
        # A prompt scenario's definition (and so its hash) is what it was before agents existed.
        exclude = {"source"} | ({"kind", "agent"} if self.kind == "prompt" else set())
        return self.model_dump(mode="json", exclude=exclude)

    def definition_hash(self) -> str:
        text = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def normalise_tier(value: str) -> str:
    """Accept ``L2``, ``l2``, ``L2-standard`` or ``standard``; return the short form ``L2``."""
    text = str(value).strip()
    head = text.split("-", 1)[0].upper()
    if head in TIERS:
        return head
    for short, long in TIERS.items():
        if text.lower() == long:
            return short
    raise ValueError(f"unknown tier {value!r}; use one of {', '.join(TIERS)}")


# --------------------------------------------------------------------------- models


BackendName = Literal["embedded", "ollama", "openai"]
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)
DEFAULT_MODEL = "embedded:smollm2"


class ModelRef(BaseModel):
    """A language model as ``backend:name``, the one spelling used everywhere."""

    model_config = ConfigDict(frozen=True)

    backend: BackendName
    name: str

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse ``ollama:qwen2.5:0.5b`` and friends; a bare name resolves to a sensible backend.

        Bare names: ``smollm2`` or a ``.gguf`` path is embedded; ``gpt-*``/``o1*`` style names go
        to the OpenAI-compatible backend; anything else (``qwen2.5:0.5b``) is an Ollama tag.
        """
        raw = text.strip()
        if not raw:
            raise ValueError("empty model name")
        head, sep, rest = raw.partition(":")
        if sep and head in BACKENDS:
            if not rest:
                raise ValueError(f"model {raw!r} names a backend but no model")
            return cls(backend=head, name=rest)
        if raw == "smollm2" or raw.endswith(".gguf"):
            return cls(backend="embedded", name=raw)
        if raw.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
            return cls(backend="openai", name=raw)
        return cls(backend="ollama", name=raw)

    def __str__(self) -> str:
        return f"{self.backend}:{self.name}"


class ModelInfo(BaseModel):
    """What a backend says about one model it offers."""

    ref: str
    backend: str
    name: str
    family: str | None = None
    parameter_size: str | None = None
    parameters_b: float | None = None
    quantization: str | None = None
    size_bytes: int | None = None
    digest: str | None = None
    context_length: int | None = None
    host: str | None = None
    reachable: bool = True


# --------------------------------------------------------------------------- the grid


class GenerationOptions(BaseModel):
    """Sampling options, passed through to every backend for real."""

    temperature: float = Field(default=0.0, ge=0)
    seed: int | None = 42
    max_tokens: int = Field(default=256, gt=0)
    num_ctx: int = Field(default=2048, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    threads: int | None = Field(default=None, gt=0)  # embedded backend only; None: its default


# Generation options that may take several values and become axes of the grid, with the short
# name each has in a cell's options key (``ctx=8192,t=0.7``).
OPTION_AXES: dict[str, str] = {
    "temperature": "t", "top_p": "top_p", "num_ctx": "ctx", "seed": "seed",
    "max_tokens": "max", "threads": "threads",
}


class BatchSpec(BaseModel):
    """The grid a user chose: models x prompt versions x scenarios x tiers x specialist x
    iterations."""

    batch_id: str
    models: list[str]
    scenarios: list[str]
    tiers: list[str] = Field(default_factory=lambda: [DEFAULT_TIER])
    prompt_versions: list[str] = Field(default_factory=lambda: [DEFAULT_PROMPT_VERSION])
    specialists: list[str] = Field(default_factory=lambda: [""])
    iterations: int = Field(default=1, ge=1)
    mode: Mode = "zero-shot"
    max_iterations: int = Field(default=3, ge=1)
    options: GenerationOptions = Field(default_factory=GenerationOptions)
    concurrency: int | None = Field(default=None, ge=1)
    judge: str | None = None
    group_by_model: bool = True
    cache: bool = False  # reuse a stored generation of the same model, messages and options
    # Refine mode: the review prompt's threshold T (1..10), per model when calibrated (--effort).
    refine_threshold: float = Field(default=7, ge=1, le=10)
    refine_thresholds: dict[str, float] = Field(default_factory=dict)
    max_new_answers: int = Field(default=3, ge=1, le=50)
    effort: EffortLevel | None = None

    def threshold_for(self, model: str) -> float:
        """The refine threshold a model's cells use: its calibrated one, else the batch's."""
        return self.refine_thresholds.get(model, self.refine_threshold)
    # Option name (a key of OPTION_AXES) -> the values it sweeps; each combination is a cell.
    option_axes: dict[str, list[float | int]] = Field(default_factory=dict)
    model_warmup: bool = True  # one untimed call per model before its first measured cell


class Cell(BaseModel):
    """One point of the grid; its key is unique within a batch, which is what makes resume work."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    model: str
    prompt_version: str
    scenario_id: str
    tier: str
    specialist: str = ""
    iteration: int = 1
    options_key: str = ""  # the swept settings, canonical (``ctx=8192,t=0.7``); '' for none
    settings: tuple[tuple[str, float | int], ...] = ()  # the same, as option overrides

    @property
    def key(self) -> tuple[str, str, str, str, str, int, str]:
        return (self.model, self.prompt_version, self.scenario_id, self.tier, self.specialist,
                self.iteration, self.options_key)

    def label(self) -> str:
        spec = f" +{self.specialist}" if self.specialist else ""
        opts = f" [{self.options_key}]" if self.options_key else ""
        return (f"{self.model}{opts} · {self.scenario_id} · {self.tier}/{self.prompt_version}"
                f"{spec} #{self.iteration}")


class AgentTelemetry(BaseModel):
    """How an agent cell worked: its tool use, what it changed and why its loop ended."""

    turns: int = 0
    tool_calls: dict[str, int] = Field(default_factory=dict)  # by tool name
    malformed_calls: int = 0  # bad JSON, a missing argument, an unknown or refused tool
    refused_calls: int = 0  # path escapes and tools the scenario does not allow
    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    end_reason: Literal["model_stopped", "turn_limit", "token_budget", "timeout"] | None = None


class RefineTelemetry(BaseModel):
    """How a refine cell spent its effort: new answers against the cap, and why it ended."""

    threshold: float
    max_new_answers: int
    new_answer_count: int = 0
    first_score: float | None = None  # the first answer's score by the scenario's evaluators
    final_score: float | None = None
    malformed: bool = False  # a reply that was not an action ended the cell
    end_reason: Literal["stopped", "cap", "malformed"] | None = None
    effort: EffortLevel | None = None  # the level asked for, when the threshold was calibrated

    @property
    def effort_ratio(self) -> float:
        return self.new_answer_count / self.max_new_answers

    @property
    def collapsed(self) -> bool:
        """One-answer collapse: the model never replaced its first answer."""
        return self.new_answer_count == 0


class Telemetry(BaseModel):
    """How a generation went. Unknown counters stay ``None``: never a made-up zero."""

    ttft_ms: float | None = None
    total_ms: float | None = None
    load_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    prompt_eval_ms: float | None = None
    eval_ms: float | None = None
    paid_load: bool | None = None
    host: str | None = None
    cost: float | None = None
    done_reason: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class Evaluation(BaseModel):
    """One evaluator's verdict on one run."""

    evaluator: str
    score: float = Field(ge=0, le=1)
    weight: float = 1.0
    detail: dict[str, Any] = Field(default_factory=dict)


class RunRecord(BaseModel):
    """A finished (or failed) cell: what went in, what came out, how long it took, its score."""

    run_id: str
    batch_id: str
    model: str
    prompt_version: str
    scenario_id: str
    tier: str
    specialist: str = ""
    iteration: int = 1
    status: RunStatus = "ok"
    output: str = ""
    error: str | None = None
    prompt: str = ""
    system: str | None = None
    scenario_hash: str | None = None
    started_at: str = Field(default_factory=utc_now)
    finished_at: str | None = None
    telemetry: Telemetry = Field(default_factory=Telemetry)
    evaluations: list[Evaluation] = Field(default_factory=list)
    auto_score: float | None = None
    success: bool | None = None
    attempts: int = 1
    retries: int = 0
    first_success: bool | None = None
    mode: str = "zero-shot"
    scoring: int = 1  # which scoring of its batch the score is from (1: as it ran)
    cached: bool = False  # the output was reused from a stored generation (--cache)
    cached_from: str | None = None  # the run whose generation was reused
    cache_key: str | None = None  # what identifies this generation for the response cache
    options_key: str = ""
    # What it really ran with: backend, server version, model digest, quantisation, parameters,
    # context size, warmup time (the host and tui-bench version are on the batch).
    environment: dict[str, Any] = Field(default_factory=dict)
    truncated: bool | None = None  # prompt plus answer reached the context size
    # Why the answer is suspect (it reached for its own scoring), its held-back success, and
    # when a person cleared it; a suspect run's success is False until then.
    suspect: str | None = None
    suspect_success: bool | None = None
    suspect_cleared_at: str | None = None
    agent: AgentTelemetry | None = None  # agent cells: tool use, changes, why the loop ended
    refine: RefineTelemetry | None = None  # refine cells: new answers, effort, why it ended

    @property
    def held_as_suspect(self) -> bool:
        """Suspect and not yet cleared by a person: shown as such, never a success."""
        return self.suspect is not None and self.suspect_cleared_at is None

    @property
    def cell_key(self) -> tuple[str, str, str, str, str, int, str]:
        return (self.model, self.prompt_version, self.scenario_id, self.tier, self.specialist,
                self.iteration, self.options_key)


class Attempt(BaseModel):
    """One answer in iterative mode, kept so the path to a pass (or not) can be read later."""

    run_id: str
    attempt: int
    output: str
    auto_score: float | None = None
    success: bool | None = None
    feedback: str | None = None
    telemetry: Telemetry = Field(default_factory=Telemetry)
    action: str | None = None  # refine: "answer" (round 1), "new_answer", "stop", "malformed"
    self_score: int | None = None  # refine: the model's own 1..10 score of its current answer


class Judgment(BaseModel):
    """A filled-in rubric for one run, by a person or a model."""

    run_id: str
    judge: str
    judge_kind: JudgeKind = "person"
    rubric_id: str
    rubric_version: int = 1
    scores: dict[str, int]
    total: int
    percent: float
    band: str
    notes: str = ""
    reason: str = ""
    blind: bool = True
    created_at: str = Field(default_factory=utc_now)
    judgment_id: int | None = None

    @classmethod
    def from_scores(cls, rubric: Rubric, scores: dict[str, int], *, run_id: str = "",
                    judge: str, judge_kind: JudgeKind = "person", notes: str = "",
                    reason: str = "", blind: bool = True) -> Judgment:
        """The one way a filled-in sheet becomes a judgment: total, percent, band agree.

        The percentage is rounded to two decimals and the band read from that rounded figure,
        so what a person sees and what is stored never disagree.
        """
        percent = round(rubric.percent(scores), 2)
        return cls(run_id=run_id, judge=judge, judge_kind=judge_kind, rubric_id=rubric.id,
                   rubric_version=rubric.version, scores=dict(scores),
                   total=sum(scores.values()), percent=percent, band=band_for(percent),
                   notes=notes, reason=reason, blind=blind)

class EffortSetting(BaseModel):
    """A calibrated effort level of one model: the refine threshold that gives its target."""

    model: str
    level: EffortLevel
    threshold: float
    target_ratio: float
    measured_ratio: float | None = None  # mean effort ratio at the threshold (interpolated)
    one_answer_rate: float | None = None
    quality: float | None = None  # mean final score at the threshold
    trials: int
    calibration_id: str
    status: Literal["candidate", "verified"] = "candidate"
    verified_batch: str | None = None
    created_at: str = Field(default_factory=utc_now)
