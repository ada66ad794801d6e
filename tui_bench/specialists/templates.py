"""Specialist templates: load and validate them, and resolve which version a name means.

A template is a JSON5 file describing a persona. The same name can exist three ways, and the
newest, richest one wins: an enriched copy (``<name>/enriched/<version>/enriched-NNN.json5``),
else a versioned copy (``<name>/<version>/<name>.json5``), else the plain ``<name>.json5``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import json5
from pydantic import Field, ValidationError, field_validator, model_validator

from tui_bench.catalog import LoadProblem, validation_problems
from tui_bench.domain import Strict
from tui_bench.locations import enriched_templates_root
from tui_bench.safe_files import TEMPLATE_MAX_BYTES, UnsafeFileError, parse_guarded, read_text
from tui_bench.specialists.paths import (
    UnsafePathError,
    numbered_files,
    safe_segment,
    unscoped,
    version_key,
)

TEMPLATE_SUFFIX = ".json5"
ENRICHED_FOLDER = "enriched"
ResolvedKind = Literal["enriched", "versioned", "file"]
Side = Literal["both", "baseline", "specialist"]
_SCOPE = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9._-]*$")


class TemplateError(ValueError):
    """A template that cannot be found or read; the message names the file and field."""

    def __init__(self, message: str, problems: list[LoadProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


# --------------------------------------------------------------------------- the model


class DocumentMetadata(Strict):
    """What a model wrote about one document, with when and by which model."""

    summary: str = ""
    key_concepts: list[str] = Field(default_factory=list)
    use_cases: list[str] = Field(default_factory=list)
    relevance: str = ""
    enriched_at: str
    model: str
    source_chars: int | None = None
    truncated: bool = False
    complete: bool = True


class DocumentEntry(Strict):
    """A document the specialist leans on: a link (``https``, ``http``, ``file``) or a path."""

    title: str
    url: str | None = None
    path: str | None = None
    description: str = ""
    metadata: DocumentMetadata | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DocumentEntry:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url or path")
        if self.url is not None and not self.url.startswith(("https://", "http://", "file://")):
            raise ValueError("url must start with https://, http:// or file:// (use path for a "
                             "file next to the template)")
        return self

    @property
    def source(self) -> str:
        return self.url or self.path or ""


class SkippedDocument(Strict):
    """A document enrichment could not use, and why."""

    title: str
    source: str
    reason: str


class EnrichmentInfo(Strict):
    """How an enriched template came to be."""

    enriched_at: str
    model: str
    enriched: int
    skipped: list[SkippedDocument] = Field(default_factory=list)
    source: str


class Template(Strict):
    """A specialist persona: who it is, what it knows, and the system prompt that makes it."""

    name: str = Field(description="template name, optionally scoped: '@acme/python-backend'")
    version: str = Field(description="the template's own version, e.g. '1.0.0'")
    purpose: str = Field(min_length=1)
    persona: str = Field(min_length=1, description="the system prompt a specialist run gets")
    description: str = ""
    tech_stack: list[str] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    suites: list[str] = Field(default_factory=list, description="test suites it is meant for")
    preferred_models: list[str] = Field(default_factory=list)
    documentation: list[DocumentEntry] = Field(default_factory=list)
    author: str | None = None
    license: str | None = None
    enrichment: EnrichmentInfo | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        scope, sep, base = value.partition("/")
        scoped = bool(sep) and value.startswith("@")
        try:
            safe_segment(base if scoped else value, "name")
        except UnsafePathError as exc:
            raise ValueError(str(exc)) from None
        if scoped and not _SCOPE.match(scope):
            raise ValueError(f"{value!r}: a scoped name looks like '@scope/name'")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _safe_version(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("version must be text, e.g. \"1.0.0\"")
        try:
            return safe_segment(value, "version")
        except UnsafePathError as exc:
            raise ValueError(str(exc)) from None

    @property
    def short_name(self) -> str:
        """The name without its scope: what folders are named after."""
        return unscoped(self.name)


# --------------------------------------------------------------------------- loading


def read_json5(path: Path) -> Any:
    """Parse a JSON5 file; a syntax error becomes a ``TemplateError`` naming the file."""
    try:
        text = read_text(path, TEMPLATE_MAX_BYTES)
        return parse_guarded(text, path, json5.loads)
    except UnsafeFileError as exc:
        raise TemplateError(str(exc)) from None
    except ValueError as exc:
        raise TemplateError(f"{path}: JSON5 syntax error: {exc}") from None


def load_template(path: Path) -> Template:
    """Read and validate one template file; every problem names the file and field."""
    data = read_json5(path)
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected an object of fields, got {type(data).__name__}")
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        problems = [replace(p, message=p.message.removeprefix("Value error, "))
                    for p in validation_problems(path, exc)]
        raise TemplateError("; ".join(str(p) for p in problems), problems) from None


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class ResolvedTemplate:
    """Which file a template name resolved to, and why that one."""

    key: str  # the base file's stem: how runs and folders refer to the template
    path: Path  # the file that was loaded
    kind: ResolvedKind
    root: Path  # the folder holding <key>.json5; relative document paths start here
    template: Template

    @property
    def base_path(self) -> Path:
        return self.root / f"{self.key}{TEMPLATE_SUFFIX}"

    def describe(self) -> str:
        """One line for people: ``python-craftsman 1.0.0 (enriched: .../enriched-002.json5)``."""
        return f"{self.template.name} {self.template.version} ({self.kind}: {self.path})"


def template_key(ref: str) -> str:
    """The name a reference means: ``templates/x.json5``, ``x.json5`` and ``x`` are all ``x``."""
    text = ref.strip().replace("\\", "/").rstrip("/")
    name = text.rsplit("/", 1)[-1]
    return name.removesuffix(TEMPLATE_SUFFIX)


def _locate(ref: str, templates_dir: Path) -> tuple[str, Path]:
    """(key, folder holding the base file) for a name or a path."""
    text = ref.strip()
    if not text:
        raise TemplateError("no template named (give a name like python-craftsman)")
    if "\x00" in text:
        raise TemplateError(f"template {ref!r} contains a NUL character")
    key = template_key(text)
    looks_like_path = "/" in text or "\\" in text or text.endswith(TEMPLATE_SUFFIX)
    if looks_like_path:
        given = Path(text)
        candidates = [given] if given.is_absolute() else [given, templates_dir / given]
        for candidate in candidates:
            if candidate.suffix == TEMPLATE_SUFFIX and (candidate.is_file()
                                                        or candidate.with_suffix("").is_dir()):
                return key, candidate.parent
        folder = candidates[0].parent
    else:
        folder = templates_dir
    try:
        safe_segment(key, "template")
    except UnsafePathError as exc:
        raise TemplateError(str(exc)) from None
    return key, folder


def _newest_enriched(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    for version_dir in sorted((p for p in folder.iterdir() if p.is_dir()),
                              key=lambda p: version_key(p.name), reverse=True):
        files = numbered_files(version_dir, "enriched")
        if files:
            return files[max(files)]
    return None


def _newest_versioned(folder: Path, key: str) -> Path | None:
    if not folder.is_dir():
        return None
    versions = [p for p in folder.iterdir() if p.is_dir() and p.name != ENRICHED_FOLDER
                and (p / f"{key}{TEMPLATE_SUFFIX}").is_file()]
    if not versions:
        return None
    newest = max(versions, key=lambda p: version_key(p.name))
    return newest / f"{key}{TEMPLATE_SUFFIX}"


def resolve_template(ref: str, templates_dir: Path) -> ResolvedTemplate:
    """The template ``ref`` means now: newest enriched, else newest versioned, else the file."""
    key, root = _locate(ref, templates_dir)
    own = root / key
    chosen: tuple[Path, ResolvedKind] | None = None
    enriched = _newest_enriched(enriched_templates_root(root) / key / ENRICHED_FOLDER)
    if enriched is not None:
        chosen = (enriched, "enriched")
    else:
        versioned = _newest_versioned(own, key)
        if versioned is not None:
            chosen = (versioned, "versioned")
        elif (root / f"{key}{TEMPLATE_SUFFIX}").is_file():
            chosen = (root / f"{key}{TEMPLATE_SUFFIX}", "file")
    if chosen is None:
        known = ", ".join(t for t in list_templates(templates_dir)) or "none"
        raise TemplateError(f"unknown template {ref!r} in {templates_dir} (known: {known})")
    path, kind = chosen
    return ResolvedTemplate(key=key, path=path, kind=kind, root=root,
                            template=load_template(path))


def list_templates(templates_dir: Path) -> list[str]:
    """Names of the templates in a folder: each ``*.json5`` at its top level."""
    if not templates_dir.is_dir():
        return []
    return sorted(p.stem for p in templates_dir.glob(f"*{TEMPLATE_SUFFIX}") if p.is_file())


def persona_resolver(templates_dir: Path) -> Callable[[str], str]:
    """The engine's ``persona`` callable: template name -> its system prompt.

    Each name is resolved once per resolver, so every cell of a batch gets the same persona
    even if someone enriches the template while the batch runs.
    """
    cache: dict[str, str] = {}

    def persona(name: str) -> str:
        if name not in cache:
            cache[name] = resolve_template(name, Path(templates_dir)).template.persona
        return cache[name]

    return persona


def specialist_axis(template_name: str, *, only: Side = "both") -> list[str]:
    """``BatchSpec.specialists`` for ``--specialist TEMPLATE``: ``["", name]`` runs both sides."""
    name = template_name.strip()
    if not name:
        raise TemplateError("no template named for --specialist")
    if only == "both":
        return ["", name]
    if only == "baseline":
        return [""]
    if only == "specialist":
        return [name]
    raise ValueError(f"only must be 'both', 'baseline' or 'specialist', not {only!r}")
