"""Templates: validation that names file and field, resolution order, and the engine hooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_bench.specialists.paths import next_number, version_key, write_numbered
from tui_bench.specialists.templates import (
    TemplateError,
    list_templates,
    load_template,
    persona_resolver,
    resolve_template,
    specialist_axis,
    template_key,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "templates"


def template_data(name: str = "demo", version: str = "1.0.0", persona: str = "Be a demo.",
                  **extra: object) -> dict:
    return {"name": name, "version": version, "purpose": "demonstrate", "persona": persona,
            **extra}


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("// a comment, as JSON5 allows\n" + json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize("name", ["python-craftsman", "productivity-coach"])
def test_shipped_templates_load_and_their_local_documents_exist(name: str) -> None:
    resolved = resolve_template(name, SHIPPED)
    template = resolved.template
    assert template.name == name and template.persona.strip()
    assert template.documentation
    local = [d for d in template.documentation if d.path]
    assert local, "each shipped template has offline documents"
    for doc in local:
        assert (SHIPPED / doc.path).is_file(), doc.path
    assert template.suites and set(template.suites) <= {"coding", "writing", "humaneval"}


def test_shipped_folder_lists_both_templates() -> None:
    assert {"python-craftsman", "productivity-coach"} <= set(list_templates(SHIPPED))


def test_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json5", {"name": "bad", "version": "1", "purpose": "x",
                                          "persona": "", "documentaton": []})
    with pytest.raises(TemplateError) as info:
        load_template(path)
    text = str(info.value)
    assert str(path) in text
    assert "persona" in text and "documentaton: unknown field" in text
    assert {p.field for p in info.value.problems} >= {"persona", "documentaton"}


def test_a_document_needs_exactly_one_source(tmp_path: Path) -> None:
    path = write(tmp_path / "doc.json5", template_data(documentation=[{"title": "t"}]))
    with pytest.raises(TemplateError, match=r"documentation\[0\].*exactly one of url or path"):
        load_template(path)


def test_syntax_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json5"
    path.write_text("{ name: 'x', ")
    with pytest.raises(TemplateError, match="broken.json5: JSON5 syntax error"):
        load_template(path)


def test_scoped_names_are_accepted_and_unscoped_for_folders(tmp_path: Path) -> None:
    path = write(tmp_path / "backend.json5", template_data(name="@acme/python-backend"))
    template = load_template(path)
    assert template.name == "@acme/python-backend"
    assert template.short_name == "python-backend"


def test_resolution_prefers_enriched_then_versioned_then_the_file(tmp_path: Path) -> None:
    write(tmp_path / "demo.json5", template_data(persona="plain"))
    first = resolve_template("demo", tmp_path)
    assert (first.kind, first.template.persona) == ("file", "plain")
    assert first.path == tmp_path / "demo.json5"

    write(tmp_path / "demo" / "1.2.0" / "demo.json5", template_data(version="1.2.0", persona="v1.2"))
    write(tmp_path / "demo" / "1.10.0" / "demo.json5",
          template_data(version="1.10.0", persona="v1.10"))
    second = resolve_template("templates/demo.json5".replace("templates", str(tmp_path)), tmp_path)
    assert (second.kind, second.template.persona) == ("versioned", "v1.10")

    enriched = tmp_path / "demo" / "enriched"
    write(enriched / "1.2.0" / "enriched-007.json5", template_data(version="1.2.0", persona="e7"))
    write(enriched / "1.10.0" / "enriched-001.json5", template_data(version="1.10.0", persona="e1"))
    write(enriched / "1.10.0" / "enriched-002.json5", template_data(version="1.10.0", persona="e2"))
    third = resolve_template("demo.json5", tmp_path)
    assert (third.kind, third.template.persona) == ("enriched", "e2")
    assert third.path.name == "enriched-002.json5"
    assert third.root == tmp_path and third.key == "demo"
    assert "enriched" in third.describe()


def test_next_free_number_counts_past_gaps_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    assert next_number(folder, "snapshot") == 1
    path, number = write_numbered(folder, "snapshot", "{}")
    assert (path.name, number) == ("snapshot-001.json5", 1)
    (folder / "snapshot-009.json5").write_text("{}")
    (folder / "snapshot-x.json5").write_text("{}")  # not a number: ignored
    (folder / "enriched-050.json5").write_text("{}")  # another stem: ignored
    path, number = write_numbered(folder, "snapshot", "{}")
    assert (path.name, number) == ("snapshot-010.json5", 10)
    assert (folder / "snapshot-001.json5").read_text() == "{}"


def test_version_order_reads_like_people_do() -> None:
    ordered = sorted(["1.10.0", "1.2.0", "1.0.0-beta", "1.0.0", "2"], key=version_key)
    assert ordered == ["1.0.0-beta", "1.0.0", "1.2.0", "1.10.0", "2"]


def test_persona_resolver_gives_the_persona_and_refuses_unknown_names(tmp_path: Path) -> None:
    write(tmp_path / "demo.json5", template_data(persona="You are a demo."))
    persona = persona_resolver(tmp_path)
    assert persona("demo") == "You are a demo."
    with pytest.raises(TemplateError, match=r"unknown template 'nope'.*known: demo"):
        persona("nope")


def test_specialist_axis_runs_both_sides_or_one() -> None:
    assert specialist_axis("python-craftsman") == ["", "python-craftsman"]
    assert specialist_axis("python-craftsman", only="baseline") == [""]
    assert specialist_axis("python-craftsman", only="specialist") == ["python-craftsman"]
    with pytest.raises(ValueError):
        specialist_axis("x", only="neither")  # type: ignore[arg-type]
    with pytest.raises(TemplateError):
        specialist_axis("  ")


def test_template_key_accepts_names_and_paths() -> None:
    assert template_key("python-craftsman") == "python-craftsman"
    assert template_key("templates/python-craftsman.json5") == "python-craftsman"
    assert template_key("python-craftsman.json5") == "python-craftsman"
