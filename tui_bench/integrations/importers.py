"""Your own data as scenarios: JSONL or CSV rows become ordinary scenario YAML files.

Each good row becomes one file, ``<folder>/<suite>/<id>.yaml``, as readable and editable as a
shipped scenario; a bad row (not JSON, no prompt, a duplicate or taken id, a field the scenario
model refuses) is reported by file and line and skipped. The files are written into a
temporary folder beside the target and moved into place only when all are written, so an
import that fails leaves nothing half-written behind.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tui_bench.domain import Scenario

SUFFIXES = (".jsonl", ".csv")
SUITE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
DEFAULT_EVALUATORS = ("expected_elements",)
DEFAULT_CATEGORY = "imported"
NAME_LENGTH = 60


class ImportFailed(ValueError):
    """The import cannot run at all: a missing file, a bad suite name, no good row."""

    def __init__(self, message: str, bad_rows: list[BadRow] | None = None) -> None:
        super().__init__(message)
        self.bad_rows = bad_rows or []


@dataclass(frozen=True)
class FieldMap:
    """Which field of a row holds what; ``id`` and ``category`` are optional."""

    prompt: str = "prompt"
    expected: str | None = "expected"
    id: str | None = None
    category: str | None = None
    system: str | None = None


@dataclass(frozen=True)
class BadRow:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    suite: str
    folder: Path
    written: list[Path] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def source_files(source: Path) -> list[Path]:
    """The file itself, or a folder's ``*.jsonl`` and ``*.csv`` files in name order."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise ImportFailed(f"{source}: no .jsonl or .csv files in this folder")
        return files
    if not source.is_file():
        raise ImportFailed(f"{source}: no such file or folder")
    if source.suffix.lower() not in SUFFIXES:
        raise ImportFailed(f"{source}: not a .jsonl or .csv file")
    return [source]


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row) for each record; a row that cannot be read is its reason instead."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                yield number, f"not valid JSON ({exc.args[0].split(':')[0]})"
                continue
            yield number, row if isinstance(row, dict) else "not a JSON object"
        return
    reader = csv.DictReader(text.splitlines(keepends=True))
    start = 2  # the header is line 1
    for row in reader:
        if None in row:
            yield start, "more values than the header has columns"
        elif not any((value or "").strip() for value in row.values()):
            pass  # a blank line
        else:
            yield start, {k: v for k, v in row.items() if k is not None}
        start = reader.line_num + 1


# --------------------------------------------------------------------------- one row


def slug(text: str) -> str:
    """An id-safe form of a value: no spaces, commas, colons or slashes."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.")
    return cleaned[:80] or "row"


def _text(row: dict[str, Any], name: str | None) -> str | None:
    if name is None or row.get(name) is None:
        return None
    value = row[name]
    if isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _expected(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return [str(value)]


def scenario_data(row: dict[str, Any], mapping: FieldMap, *, suite: str, ordinal: int,
                  evaluators: Iterable[str], rubric: str | None,
                  threshold: float | None) -> dict[str, Any] | str:
    """The scenario a row describes, as YAML-ready data, or the reason the row is bad."""
    prompt = _text(row, mapping.prompt)
    if prompt is None:
        return f"field {mapping.prompt!r} (the prompt) is missing or empty"
    raw_id = _text(row, mapping.id) if mapping.id else None
    if mapping.id and raw_id is None:
        return f"field {mapping.id!r} (the id) is missing or empty"
    expected = _expected(row.get(mapping.expected)) if mapping.expected else []
    names = list(evaluators)
    data: dict[str, Any] = {
        "id": f"{suite}-{slug(raw_id)}" if raw_id else f"{suite}-{ordinal:04d}",
        "name": " ".join(prompt.split())[:NAME_LENGTH],
        "suite": suite,
        "category": slug(_text(row, mapping.category) or DEFAULT_CATEGORY),
        "prompt": prompt,
    }
    system = _text(row, mapping.system)
    if system:
        data["system"] = system
    if expected:
        data["expected_elements"] = expected
        if "oracle" in names:
            data["oracle"] = [{"answer": answer} for answer in expected]
    data["evaluators"] = [{"name": name, "weight": 1.0} for name in names]
    if rubric:
        data["rubric"] = rubric
    if threshold is not None:
        data["threshold"] = threshold
    data["tags"] = ["imported"]
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "row"
        return f"{where}: {err.get('msg')}"
    return data


# --------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks (``|``), so prompts read as they were written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def import_dataset(source: Path, *, suite: str, root: Path, mapping: FieldMap = FieldMap(),
                   evaluators: Iterable[str] = DEFAULT_EVALUATORS, rubric: str | None = None,
                   threshold: float | None = None, taken: dict[str, str] | None = None,
                   replace: bool = False) -> ImportResult:
    """Read ``source`` (a file or folder) and write the suite's scenarios under ``root``.

    ``taken`` maps ids already in use (shipped or other user scenarios) to where they are.
    """
    if not SUITE_PATTERN.match(suite):
        raise ImportFailed(f"--suite {suite!r}: use letters, digits, '-' and '_' only")
    target = root / suite
    if target.exists() and not replace:
        raise ImportFailed(f"{target} exists; pass --replace to import the suite again")
    files = source_files(source)
    evaluators = list(evaluators)
    result = ImportResult(suite=suite, folder=target)
    scenarios: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    taken = taken or {}
    ordinal = 0
    for path in files:
        for line, row in read_rows(path):
            ordinal += 1
            data = row if isinstance(row, str) else scenario_data(
                row, mapping, suite=suite, ordinal=ordinal, evaluators=evaluators,
                rubric=rubric, threshold=threshold)
            if isinstance(data, dict) and data["id"] in seen:
                data = f"duplicate id {data['id']!r} (also at {seen[data['id']]})"
            elif isinstance(data, dict) and data["id"] in taken:
                data = f"id {data['id']!r} is taken by {taken[data['id']]}"
            if isinstance(data, str):
                result.bad_rows.append(BadRow(str(path), line, data))
                continue
            seen[data["id"]] = f"{path.name} line {line}"
            scenarios.append(data)
    if not scenarios:
        raise ImportFailed(f"{source}: no row could be imported ({len(result.bad_rows)} bad)",
                           result.bad_rows)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{suite}.import-", dir=root))
    try:
        for data in scenarios:
            (staging / f"{data['id']}.yaml").write_text(to_yaml(data), encoding="utf-8")
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{suite}.old-", dir=root))
            target.rename(old / suite)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    result.written = [target / f"{data['id']}.yaml" for data in scenarios]
    return result
