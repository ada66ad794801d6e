"""Enrich a template: read each of its documents and have a model write metadata about it.

Every document is fetched (bounded in time and size), reduced to text, truncated, and given to
a model (``embedded:smollm2`` unless told otherwise) that answers in JSON constrained by a
schema. A document that fails is skipped with its reason; the rest are still enriched, and the
result is written as the template's next ``enriched-NNN.json5``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tui_bench.backends import BackendError, BackendPool, collect
from tui_bench.domain import DEFAULT_MODEL, GenerationOptions, ModelRef, utc_now
from tui_bench.locations import enriched_templates_root
from tui_bench.settings import Settings
from tui_bench.specialists.comments import comment_safe
from tui_bench.specialists.fetch import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_S,
    FetchError,
    fetch_document,
    http_client,
)
from tui_bench.specialists.fetch_policy import FetchPolicy
from tui_bench.specialists.paths import inside, safe_segment, write_numbered
from tui_bench.specialists.templates import (
    ENRICHED_FOLDER,
    DocumentEntry,
    DocumentMetadata,
    EnrichmentInfo,
    ResolvedTemplate,
    SkippedDocument,
    Template,
    TemplateError,
    resolve_template,
)

DEFAULT_MAX_CHARS = 3000  # of document text given to the model: fits a 2048-token context
DEFAULT_MAX_TOKENS = 320
MAX_DOCUMENTS_AT_ONCE = 3
NUM_CTX = 2048  # the runner's default, so the embedded model is loaded once, not twice

METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 280},
        "key_concepts": {"type": "array", "items": {"type": "string", "maxLength": 48},
                         "maxItems": 5},
        "use_cases": {"type": "array", "items": {"type": "string", "maxLength": 100},
                      "maxItems": 3},
        "relevance": {"type": "string", "maxLength": 200},
    },
    "required": ["summary", "key_concepts", "use_cases", "relevance"],
}

SYSTEM = ("You write catalogue metadata about documentation for a specialist assistant. "
          "Reply only with JSON.")
ASK = """Specialist: {name} - {purpose}
Document: {title}{description}

--- document text ---
{text}
--- end ---

Write JSON with: "summary" (one or two sentences on what the document says), "key_concepts" \
(up to 5 short phrases), "use_cases" (up to 3 tasks it helps with), "relevance" (one sentence: \
how it helps this specialist)."""

State = Literal["fetching", "asking", "enriched", "skipped"]


class EnrichError(ValueError):
    """Enrichment that cannot start or produced nothing worth writing."""


@dataclass
class EnrichProgress:
    """One step for one document, for a progress display."""

    index: int
    total: int
    title: str
    state: State
    reason: str | None = None


@dataclass
class DocumentOutcome:
    """What happened to one documentation entry."""

    index: int
    title: str
    source: str
    enriched: bool
    reason: str | None = None
    metadata: DocumentMetadata | None = None


@dataclass
class EnrichResult:
    """The enriched template, where it was written, and what was enriched or skipped."""

    resolved: ResolvedTemplate
    template: Template
    outcomes: list[DocumentOutcome] = field(default_factory=list)
    path: Path | None = None
    number: int | None = None

    @property
    def enriched(self) -> list[DocumentOutcome]:
        return [o for o in self.outcomes if o.enriched]

    @property
    def skipped(self) -> list[DocumentOutcome]:
        return [o for o in self.outcomes if not o.enriched]


# --------------------------------------------------------------------------- reading answers


def _close(fragment: str) -> str:
    """``fragment`` with its open string, arrays and objects closed."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in fragment:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    tail = ("\\" if escaped else "") + ('"' if in_string else "")
    return fragment + tail + "".join(reversed(stack))


def parse_metadata(text: str) -> tuple[dict[str, Any], bool]:
    """The model's JSON, and whether it was complete; a reply cut by the token limit is
    closed at its last whole value rather than thrown away."""
    text = text.strip()
    start = text.find("{")
    if start < 0:
        raise ValueError("the model wrote no JSON object")
    text = text[start:]
    try:
        data = json.loads(text)
        return (data if isinstance(data, dict) else {}), isinstance(data, dict)
    except ValueError:
        pass
    cuts = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if text[i] in ',{["'][:400]
    for cut in cuts:
        fragment = text[:cut].rstrip().rstrip(",:").rstrip()
        if fragment.endswith(":"):
            continue
        try:
            data = json.loads(_close(fragment))
        except ValueError:
            continue
        if isinstance(data, dict):
            return data, False
    raise ValueError("the model's JSON could not be read")


def _strings(value: Any, limit: int) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()][:limit]


def metadata_from(data: dict[str, Any], *, complete: bool, model: str, source_chars: int,
                  truncated: bool) -> DocumentMetadata:
    """Clean what the model wrote into ``DocumentMetadata``; empty metadata is an error."""
    summary = str(data.get("summary") or "").strip()
    relevance = str(data.get("relevance") or "").strip()
    concepts = _strings(data.get("key_concepts"), 5)
    uses = _strings(data.get("use_cases"), 3)
    if not (summary or relevance or concepts or uses):
        raise ValueError("the model wrote empty metadata")
    return DocumentMetadata(summary=summary, key_concepts=concepts, use_cases=uses,
                            relevance=relevance, enriched_at=utc_now(), model=model,
                            source_chars=source_chars, truncated=truncated, complete=complete)


# --------------------------------------------------------------------------- enrichment


def enriched_folder(resolved: ResolvedTemplate) -> Path:
    """``<root>/<key>/enriched/<version>``, verified to stay inside its templates folder.

    ``root`` is the template's own folder, or the data folder for a shipped template
    (``locations.enriched_templates_root``): the shipped folder is never written to.
    """
    root = enriched_templates_root(resolved.root)
    return inside(root, safe_segment(resolved.key, "template"), ENRICHED_FOLDER,
                  safe_segment(resolved.template.version, "template version"))


async def enrich_template(
    template_ref: str, *, templates_dir: Path, model: str = DEFAULT_MODEL,
    pool: BackendPool | None = None, settings: Settings | None = None,
    max_chars: int = DEFAULT_MAX_CHARS, max_tokens: int = DEFAULT_MAX_TOKENS,
    timeout_s: float = DEFAULT_TIMEOUT_S, max_bytes: int = DEFAULT_MAX_BYTES,
    concurrency: int = MAX_DOCUMENTS_AT_ONCE,
    on_progress: Callable[[EnrichProgress], None] | None = None, write: bool = True,
    policy: FetchPolicy | None = None,
) -> EnrichResult:
    """Enrich every documentation entry of a template and write ``enriched-NNN.json5``.

    Raises ``EnrichError`` when the template has no documentation or nothing could be
    enriched (then nothing is written); a single failing document is only skipped.
    ``policy`` says what the documents may reach (default: the template's folder and public
    hosts only).
    """
    try:
        resolved = resolve_template(template_ref, Path(templates_dir))
    except TemplateError as exc:
        raise EnrichError(str(exc)) from None
    template = resolved.template
    docs = template.documentation
    if not docs:
        raise EnrichError(f"{resolved.path}: the template has no documentation entries")
    ref = ModelRef.parse(model)
    folder = enriched_folder(resolved) if write else None
    own_pool = pool is None
    pool = pool or BackendPool(settings)
    settings = settings or pool.settings
    backend, name = pool.for_model(ref)
    semaphore = asyncio.Semaphore(max(1, min(concurrency, MAX_DOCUMENTS_AT_ONCE)))
    options = GenerationOptions(temperature=0.0, seed=42, max_tokens=max_tokens, num_ctx=NUM_CTX)

    def tell(index: int, doc: DocumentEntry, state: State, reason: str | None = None) -> None:
        if on_progress is not None:
            on_progress(EnrichProgress(index, len(docs), doc.title, state, reason))

    async def one(index: int, doc: DocumentEntry, client: Any) -> DocumentOutcome:
        async with semaphore:
            try:
                tell(index, doc, "fetching")
                fetched = await fetch_document(doc.source, root=resolved.root, client=client,
                                               timeout_s=timeout_s, max_bytes=max_bytes,
                                               policy=policy)
                text = fetched.text[:max_chars]
                truncated = fetched.capped or len(fetched.text) > max_chars
                tell(index, doc, "asking")
                prompt = ASK.format(
                    name=template.name, purpose=template.purpose, title=doc.title,
                    description=f" ({doc.description})" if doc.description else "", text=text)
                messages = [{"role": "system", "content": SYSTEM},
                            {"role": "user", "content": prompt}]
                answer, _ = await asyncio.wait_for(
                    collect(backend.chat(name, messages, options, schema=METADATA_SCHEMA),
                            max_pieces=options.max_tokens),
                    timeout=settings.request_timeout_s)
                data, complete = parse_metadata(answer)
                metadata = metadata_from(data, complete=complete, model=str(ref),
                                         source_chars=len(text), truncated=truncated)
            except FetchError as exc:
                return _skip(index, doc, f"fetch failed: {exc}")
            except BackendError as exc:
                return _skip(index, doc, f"model failed: {exc}")
            except TimeoutError:
                return _skip(index, doc, f"model gave no answer in {settings.request_timeout_s:g}s")
            except ValueError as exc:
                return _skip(index, doc, str(exc))
            except Exception as exc:  # one odd document must not cost the others
                return _skip(index, doc, f"{type(exc).__name__}: {exc}")
        tell(index, doc, "enriched")
        return DocumentOutcome(index, doc.title, doc.source, True, metadata=metadata)

    def _skip(index: int, doc: DocumentEntry, reason: str) -> DocumentOutcome:
        tell(index, doc, "skipped", reason)
        return DocumentOutcome(index, doc.title, doc.source, False, reason=reason)

    try:
        async with http_client() as client:
            outcomes = list(await asyncio.gather(*(one(i, d, client) for i, d in enumerate(docs))))
    finally:
        if own_pool:
            await pool.aclose()
    enriched = _apply(template, outcomes, model=str(ref), source=str(resolved.path))
    result = EnrichResult(resolved=resolved, template=enriched, outcomes=outcomes)
    if not result.enriched:
        reasons = "; ".join(f"{o.title}: {o.reason}" for o in outcomes)
        raise EnrichError(f"no document could be enriched ({reasons})")
    if folder is not None:
        result.path, result.number = write_numbered(folder, "enriched", enriched_text(enriched))
    return result


def _apply(template: Template, outcomes: list[DocumentOutcome], *, model: str,
           source: str) -> Template:
    """The template with metadata on each enriched entry; skipped entries keep what they had."""
    docs = [doc.model_copy(update={"metadata": outcome.metadata}) if outcome.enriched else doc
            for doc, outcome in zip(template.documentation, outcomes, strict=True)]
    info = EnrichmentInfo(
        enriched_at=utc_now(), model=model, enriched=sum(o.enriched for o in outcomes),
        skipped=[SkippedDocument(title=o.title, source=o.source, reason=o.reason or "")
                 for o in outcomes if not o.enriched],
        source=source)
    return Template.model_validate({**template.model_dump(mode="json"),
                                    "documentation": [d.model_dump(mode="json") for d in docs],
                                    "enrichment": info.model_dump(mode="json")})


def enriched_text(template: Template) -> str:
    """The enriched file: JSON (valid JSON5) under a comment saying how it was made."""
    info = template.enrichment
    head = "// Enriched by tui-bench"
    if info is not None:
        head += f" with {info.model} at {info.enriched_at} from {info.source}"
    data = template.model_dump(mode="json", exclude_none=True)
    return comment_safe(head) + ".\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n"
