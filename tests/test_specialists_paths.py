"""No name or version from a template can place a file outside the folder meant for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_bench.specialists.paths import UnsafePathError, inside, safe_segment, version_folder
from tui_bench.specialists.templates import TemplateError, load_template

BAD = ["../../etc", "/abs", "a/b", "..", "x\x00", "a\\b", "C:evil", ".", "", "  ", "..hidden",
       "-flag", "new\nline"]


@pytest.mark.parametrize("value", BAD)
def test_unsafe_segments_are_refused_with_a_reason(value: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        safe_segment(value, "template name")
    assert "template name" in str(info.value)


@pytest.mark.parametrize("value", ["python-craftsman", "1.0.0", "v2_beta+1", "A9"])
def test_plain_segments_pass(value: str) -> None:
    assert safe_segment(value) == value


@pytest.mark.parametrize("name,version", [("../../etc", "1.0"), ("ok", "../.."), ("ok", "/abs"),
                                          ("@acme/../x", "1"), ("a/b", "1"), ("ok", "x\x00"),
                                          ("..", "1"), ("ok", "..")])
def test_version_folder_refuses_and_writes_nothing(tmp_path: Path, name: str,
                                                   version: str) -> None:
    out = tmp_path / "out" / "snapshots"
    out.mkdir(parents=True)
    with pytest.raises(UnsafePathError):
        version_folder(out, name, version)
    assert list(tmp_path.rglob("*")) == [tmp_path / "out", out]


def test_scoped_names_use_the_name_without_scope(tmp_path: Path) -> None:
    assert version_folder(tmp_path, "@acme/python-backend", "1.0") == \
        (tmp_path / "python-backend" / "1.0").resolve()


def test_inside_catches_a_symlink_that_leaves(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    base.mkdir()
    (base / "link").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="would leave"):
        inside(base, "link", "x")


@pytest.mark.parametrize("name,version", [("../../etc", "1.0.0"), ("demo", "../../etc"),
                                          ("/abs", "1"), ("demo", "a/b"), ("demo", "x\x00")])
def test_templates_with_unsafe_names_do_not_load(tmp_path: Path, name: str, version: str) -> None:
    path = tmp_path / "t.json5"
    path.write_text(json.dumps({"name": name, "version": version, "purpose": "p",
                                "persona": "q"}))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert str(path) in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_any_accepted_name_stays_inside(tmp_path_factory: pytest.TempPathFactory, name: str,
                                        version: str) -> None:
    base = tmp_path_factory.getbasetemp() / "fuzz"
    try:
        folder = version_folder(base, name, version)
    except UnsafePathError:
        return
    assert folder.is_relative_to(base.resolve())
    assert folder.parent.parent == base.resolve()
