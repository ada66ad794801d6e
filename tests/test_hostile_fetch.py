"""Templates must not leak local files or reach inside the network.

A documentation entry naming ``file:///etc/shadow`` or a loopback URL is refused unless the
user allowed that path or private addresses; the check is on the resolved address (a name
such as ``localhost`` does not slip past) and on every redirect.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from tui_bench.backends import BackendPool
from tui_bench.backends.instant import InstantBackend
from tui_bench.specialists.enrich import EnrichError, enrich_template
from tui_bench.specialists.fetch import FetchError, fetch_document
from tui_bench.specialists.fetch_policy import FetchPolicy, IPAddress, PolicyError


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return

    def do_GET(self) -> None:
        if self.path.startswith("/hop"):  # redirect to the address the query names
            self.send_response(302)
            self.send_header("Location", self.path.split("?to=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"internal admin page: the secret is 42"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


class OnlyFirstLoopback(FetchPolicy):
    """Private addresses refused except 127.0.0.1, so a redirect's next hop can be refused."""

    def check_address(self, host: str, address: IPAddress) -> None:
        if address != ipaddress.ip_address("127.0.0.1"):
            super().check_address(host, address)


async def test_local_files_outside_the_template_folder_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash")
    with pytest.raises(FetchError, match="outside the template's folder.*--allow-path"):
        await fetch_document(secret.as_uri(), root=root)
    with pytest.raises(FetchError, match="outside the template's folder"):
        await fetch_document("file:///etc/shadow", root=root)
    (root / "link").symlink_to(secret)  # a symlink inside does not lead outside
    with pytest.raises(FetchError, match="leaves the template folder"):
        await fetch_document("link", root=root)
    allowed = FetchPolicy(allowed_paths=(secret,))
    got = await fetch_document(secret.as_uri(), root=root, policy=allowed)
    assert "hash" in got.text


async def test_private_hosts_are_refused_by_address_and_on_every_redirect(server: int,
                                                                          tmp_path: Path) -> None:
    for url in (f"http://127.0.0.1:{server}/admin", f"http://localhost:{server}/admin",
                f"http://[::ffff:127.0.0.1]:{server}/admin", "http://169.254.169.254/latest"):
        with pytest.raises(FetchError, match="(loopback|link-local) address.*--allow-private"):
            await fetch_document(url, root=tmp_path)
    got = await fetch_document(f"http://127.0.0.1:{server}/admin", root=tmp_path,
                               policy=FetchPolicy(allow_private=True))
    assert "secret is 42" in got.text
    # The first hop is allowed, the redirect's target (another loopback address) is not.
    hop = f"http://127.0.0.1:{server}/hop?to=http://127.0.0.2:{server}/admin"
    with pytest.raises(FetchError, match="127.0.0.2"):
        await fetch_document(hop, root=tmp_path, policy=OnlyFirstLoopback())
    # A redirect that stays on the allowed address is followed.
    same = f"http://127.0.0.1:{server}/hop?to=/admin"
    got = await fetch_document(same, root=tmp_path, policy=OnlyFirstLoopback())
    assert "secret is 42" in got.text


async def test_enrich_never_sends_a_refused_document_to_the_model(server: int,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "t.json5").write_text(json.dumps({
        "name": "t", "version": "1.0.0", "purpose": "p", "persona": "You help.",
        "documentation": [{"title": "shadow", "url": "file:///etc/shadow"},
                          {"title": "admin", "url": f"http://127.0.0.1:{server}/admin"}]}))
    backend = InstantBackend('{"summary": "s"}')
    pool = BackendPool(overrides={"embedded": backend})
    with pytest.raises(EnrichError, match="--allow-path.*--allow-private"):
        await enrich_template("t", templates_dir=tmp_path, pool=pool)
    assert backend.requests == []


def test_policy_refuses_unresolvable_and_reserved(tmp_path: Path) -> None:
    policy = FetchPolicy()
    for text in ("10.0.0.1", "192.168.1.1", "fd00::1", "0.0.0.0", "100.64.0.1"):
        with pytest.raises(PolicyError):
            policy.check_address("h", ipaddress.ip_address(text))
    policy.check_address("h", ipaddress.ip_address("93.184.216.34"))
