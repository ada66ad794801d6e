"""Specialists: persona templates, their enrichment, and snapshots that carry their proof.

Nothing here imports Textual or rich: the headless run, the CLI commands and the minting
screen all call the same functions.
"""

from tui_bench.specialists.mint import (
    MintError,
    MintResult,
    build_comparison,
    comparison_for_batch,
    mint_snapshot,
)
from tui_bench.specialists.paths import UnsafePathError, safe_segment
from tui_bench.specialists.snapshot import Snapshot, snapshot_json_schema, write_schema
from tui_bench.specialists.templates import (
    ResolvedTemplate,
    Template,
    TemplateError,
    list_templates,
    load_template,
    persona_resolver,
    resolve_template,
    specialist_axis,
    template_key,
)

__all__ = [
    "MintError", "MintResult", "ResolvedTemplate", "Snapshot", "Template", "TemplateError",
    "UnsafePathError", "build_comparison", "comparison_for_batch", "list_templates",
    "load_template", "mint_snapshot", "persona_resolver", "resolve_template", "safe_segment",
    "snapshot_json_schema", "specialist_axis", "template_key", "write_schema",
]
