"""Code extraction: grade the function a model wrote, whatever wrapping it came in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui_bench.scoring.extract import extract_code, fenced_blocks, strip_thinking

FUNC = "def slugify(text):\n    return text.lower()\n"


def test_python_block_is_taken_from_prose() -> None:
    out = f"Sure! Here it is:\n\n```python\n{FUNC}```\n\nThis lower-cases the text."
    got = extract_code(out, "slugify")
    assert got.code == FUNC
    assert got.method == "fenced-python"


def test_python_block_preferred_over_other_languages() -> None:
    out = f"```bash\npip install nothing\n```\n```py\n{FUNC}```"
    assert extract_code(out, "slugify").code == FUNC


def test_any_fenced_block_when_none_is_tagged_python() -> None:
    out = f"```\n{FUNC}```"
    got = extract_code(out, "slugify")
    assert got.code == FUNC and got.method == "fenced"


def test_block_defining_the_entry_point_wins_over_usage_examples() -> None:
    out = (f"```python\n{FUNC}```\nUsage:\n```python\nprint(slugify('Hi There'))\n```")
    assert extract_code(out, "slugify").code == FUNC


def test_last_definition_wins_when_the_answer_corrects_itself() -> None:
    fixed = "def slugify(text):\n    return text.strip().lower()\n"
    out = f"First try:\n```python\n{FUNC}```\nBetter:\n```python\n{fixed}```"
    assert extract_code(out, "slugify").code == fixed


def test_blocks_are_joined_when_none_defines_the_entry_point() -> None:
    out = "```python\nimport re\n```\n```python\ndef helper():\n    return 1\n```"
    got = extract_code(out, "slugify").code
    assert "import re" in got and "def helper" in got
    assert got.index("import re") < got.index("def helper")


def test_unclosed_fence_runs_to_the_end() -> None:
    out = f"```python\n{FUNC}    # cut off by max_tokens"
    blocks = fenced_blocks(out)
    assert len(blocks) == 1 and not blocks[0].closed
    assert extract_code(out, "slugify").code.startswith(FUNC)


def test_indented_fence_is_dedented() -> None:
    out = "1. Write it:\n\n   ```python\n   def f():\n       return 1\n   ```\n"
    assert extract_code(out, "f").code == "def f():\n    return 1\n"


def test_raw_code_without_fences() -> None:
    got = extract_code(FUNC, "slugify")
    assert got.code == FUNC and got.method == "raw"


def test_code_salvaged_from_unfenced_prose() -> None:
    out = f"Here is the function you asked for:\n{FUNC}\nIt works for all inputs."
    got = extract_code(out, "slugify")
    assert got.method == "raw-trimmed"
    assert got.code == FUNC


def test_thinking_is_ignored() -> None:
    out = ("<think>maybe\n```python\ndef slugify(text):\n    return 0\n```\n</think>\n"
           f"```python\n{FUNC}```")
    assert extract_code(out, "slugify").code == FUNC
    assert strip_thinking("<think>x") == ""


def test_empty_output() -> None:
    got = extract_code("", "slugify")
    assert got.code == "" and got.method == "none"


@given(st.text(max_size=400))
def test_extraction_never_raises(text: str) -> None:
    got = extract_code(text, "f")
    assert isinstance(got.code, str)
