"""Enrichment: bounded fetches, HTML to text, cut answers repaired, failures skipped and counted."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import json5
import pytest

from tui_bench import locations
from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.specialists.enrich import (
    METADATA_SCHEMA,
    EnrichError,
    enrich_template,
    parse_metadata,
)
from tui_bench.specialists.fetch import FetchError, fetch_document, html_to_text
from tui_bench.specialists.fetch_policy import FetchPolicy

LOOPBACK = FetchPolicy(allow_private=True)  # the test server is on 127.0.0.1
from tui_bench.specialists.templates import resolve_template

PAGE = """<!doctype html><html><head><title>Retry budgets</title>
<style>p { color: red }</style><script>var secret = "do not read";</script></head>
<body><h1>Retry budgets</h1><p>Retry a failed call at most <b>three</b> times,
with exponential backoff.</p><noscript>enable js</noscript><p>Honour &quot;Retry-After&quot;.</p>
</body></html>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/guide.html":
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                while True:  # a body that never ends: only a byte cap stops the reader
                    self.wfile.write(b"lorem ipsum " * 1000)
            except (BrokenPipeError, ConnectionResetError):
                return
        elif self.path == "/slow":
            threading.Event().wait(5)
            self.send_response(200)
            self.end_headers()
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_html_to_text_drops_script_and_style() -> None:
    text = html_to_text(PAGE)
    assert text.startswith("Retry budgets")
    assert "three" in text and 'Honour "Retry-After".' in text
    assert "secret" not in text and "color" not in text and "enable js" not in text


async def test_fetch_over_http_reads_html_as_text(server: str, tmp_path: Path) -> None:
    got = await fetch_document(f"{server}/guide.html", root=tmp_path, policy=LOOPBACK)
    assert "exponential backoff" in got.text and "secret" not in got.text
    assert not got.capped


async def test_fetch_stops_at_the_byte_cap(server: str, tmp_path: Path) -> None:
    got = await asyncio.wait_for(
        fetch_document(f"{server}/endless", root=tmp_path, max_bytes=50_000,
                       policy=LOOPBACK), timeout=20)
    assert got.capped and len(got.text) <= 50_000


async def test_fetch_errors_are_reasons(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetch_document(f"{server}/missing", root=tmp_path, policy=LOOPBACK)
    with pytest.raises(FetchError, match="timed out after 0.5s"):
        await fetch_document(f"{server}/slow", root=tmp_path, timeout_s=0.5,
                             policy=LOOPBACK)
    with pytest.raises(FetchError, match="file not found"):
        await fetch_document("docs/none.md", root=tmp_path)
    with pytest.raises(FetchError, match="leaves the template folder"):
        await fetch_document("../../etc/passwd", root=tmp_path)
    with pytest.raises(FetchError, match="unsupported scheme"):
        await fetch_document("ftp://example.com/x", root=tmp_path)


async def test_file_urls_and_relative_paths_are_capped_too(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 10_000)
    got = await fetch_document(big.as_uri(), root=tmp_path, max_bytes=100)
    assert got.capped and got.text == "x" * 100
    got = await fetch_document("big.txt", root=tmp_path)
    assert not got.capped and len(got.text) == 10_000


def test_a_cut_answer_is_closed_at_its_last_whole_value() -> None:
    data, complete = parse_metadata('{"summary": "Retries", "key_concepts": ["backoff", "bud')
    assert not complete
    assert data["summary"] == "Retries" and data["key_concepts"][0] == "backoff"
    data, complete = parse_metadata('{"summary": "ok", "key_concepts": [], "use_cases": [], '
                                    '"relevance": "r"}')
    assert complete and data["relevance"] == "r"
    with pytest.raises(ValueError):
        parse_metadata("no json at all")


def write_template(folder: Path, server: str) -> None:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "notes.md").write_text(
        "# Backoff notes\n\nDouble the delay after each failure, up to a ceiling of 60 s.\n")
    data = {
        "name": "@acme/retry-expert", "version": "0.3.0", "purpose": "make calls resilient",
        "persona": "You make network calls resilient.",
        "documentation": [
            {"title": "Retry budgets", "url": f"{server}/guide.html"},
            {"title": "Backoff notes", "path": "docs/notes.md"},
            {"title": "Gone", "url": f"{server}/gone.html"},
            {"title": "Missing file", "path": "docs/missing.md"},
        ],
    }
    (folder / "retry-expert.json5").write_text(json.dumps(data, indent=2))


async def test_enrichment_with_a_canned_model_writes_numbered_files(server: str,
                                                                    tmp_path: Path) -> None:
    write_template(tmp_path, server)
    answer = json.dumps({"summary": "About retries.", "key_concepts": ["backoff"],
                         "use_cases": ["flaky APIs"], "relevance": "core"})
    backend = InstantBackend(answer)
    pool = BackendPool(overrides={"embedded": backend})
    seen: list[tuple[int, str]] = []
    result = await enrich_template("retry-expert", templates_dir=tmp_path, pool=pool,
                                   on_progress=lambda p: seen.append((p.index, p.state)),
                                   policy=LOOPBACK)
    assert [o.title for o in result.enriched] == ["Retry budgets", "Backoff notes"]
    assert {o.title: o.reason for o in result.skipped} == {
        "Gone": "fetch failed: HTTP 404 Not Found",
        "Missing file": f"fetch failed: file not found: {tmp_path / 'docs' / 'missing.md'}"}
    assert result.path == tmp_path / "retry-expert" / "enriched" / "0.3.0" / "enriched-001.json5"
    assert backend.requests[0]["schema"] == METADATA_SCHEMA
    assert "exponential backoff" in backend.requests[0]["messages"][1]["content"] or \
        "exponential backoff" in backend.requests[1]["messages"][1]["content"]
    assert (2, "skipped") in seen and (1, "enriched") in seen
    again = await enrich_template("retry-expert", templates_dir=tmp_path, pool=pool,
                                  policy=LOOPBACK)
    assert again.path is not None and again.path.name == "enriched-002.json5"
    # What was written resolves next, keeps the original entries and says what was skipped.
    resolved = resolve_template("retry-expert", tmp_path)
    assert resolved.kind == "enriched" and resolved.path == again.path
    docs = resolved.template.documentation
    assert docs[0].url == f"{server}/guide.html" and docs[1].path == "docs/notes.md"
    assert docs[0].metadata is not None and docs[0].metadata.summary == "About retries."
    assert docs[0].metadata.model == "embedded:smollm2" and docs[0].metadata.enriched_at
    assert docs[2].metadata is None
    assert resolved.template.enrichment is not None
    assert resolved.template.enrichment.enriched == 2
    assert len(resolved.template.enrichment.skipped) == 2


async def test_nothing_is_written_when_every_document_fails(tmp_path: Path) -> None:
    (tmp_path / "t.json5").write_text(json.dumps({
        "name": "t", "version": "1", "purpose": "p", "persona": "q",
        "documentation": [{"title": "none", "path": "nope.md"}]}))
    pool = BackendPool(overrides={"embedded": InstantBackend("{}")})
    with pytest.raises(EnrichError, match="no document could be enriched.*none: fetch failed"):
        await enrich_template("t", templates_dir=tmp_path, pool=pool)
    assert not (tmp_path / "t").exists()


async def test_at_most_three_documents_at_once(tmp_path: Path) -> None:
    docs = []
    for i in range(7):
        (tmp_path / f"d{i}.md").write_text(f"document {i}")
        docs.append({"title": f"d{i}", "path": f"d{i}.md"})
    (tmp_path / "t.json5").write_text(json.dumps({
        "name": "t", "version": "1", "purpose": "p", "persona": "q", "documentation": docs}))
    busy, peak = 0, 0

    class Slow(InstantBackend):
        async def chat(self, *args, **kwargs):  # type: ignore[override]
            nonlocal busy, peak
            busy += 1
            peak = max(peak, busy)
            await asyncio.sleep(0.05)
            async for chunk in super().chat(*args, **kwargs):
                yield chunk
            busy -= 1

    pool = BackendPool(overrides={"embedded": Slow('{"summary": "s"}')})
    result = await enrich_template("t", templates_dir=tmp_path, pool=pool, concurrency=10)
    assert len(result.enriched) == 7 and peak == 3


@pytest.mark.slow
async def test_enrichment_with_the_embedded_model(server: str, tmp_path: Path) -> None:
    """The real model writes the metadata for a loopback page and a file; two fail."""
    write_template(tmp_path, server)
    result = await enrich_template("retry-expert", templates_dir=tmp_path, max_tokens=40,
                                   max_chars=600, policy=LOOPBACK)
    assert len(result.enriched) == 2 and len(result.skipped) == 2
    assert result.path is not None
    data = json5.loads(result.path.read_text())
    enriched = [d for d in data["documentation"] if "metadata" in d]
    assert [d["title"] for d in enriched] == ["Retry budgets", "Backoff notes"]
    for doc in enriched:
        meta = doc["metadata"]
        assert meta["model"] == "embedded:smollm2"
        assert meta["summary"] or meta["key_concepts"] or meta["relevance"]
    assert data["enrichment"]["enriched"] == 2
    assert {s["title"] for s in data["enrichment"]["skipped"]} == {"Gone", "Missing file"}


async def test_a_shipped_template_is_enriched_into_the_user_data_folder(tmp_path: Path) -> None:
    """The shipped templates folder is read-only: enrich writes to the data folder instead."""
    shipped = locations.shipped("templates")
    before = sorted(p.relative_to(shipped) for p in shipped.rglob("*"))
    answer = json.dumps({"summary": "Edge cases.", "key_concepts": ["None"],
                         "use_cases": ["functions"], "relevance": "core"})
    pool = BackendPool(overrides={"embedded": InstantBackend(answer)})
    result = await enrich_template("python-craftsman", templates_dir=shipped, pool=pool)
    data = tmp_path / "user-data"  # conftest points TUI_BENCH_DATA here
    assert result.path is not None and result.path.is_relative_to(data / "templates")
    assert result.path.parent == data / "templates" / "python-craftsman" / "enriched" / "1.0.0"
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*")) == before
    resolved = resolve_template("python-craftsman", shipped)
    assert resolved.kind == "enriched" and resolved.path == result.path
