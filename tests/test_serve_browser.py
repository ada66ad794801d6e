"""``tui-bench serve`` in a real headless Chromium: the home screen, a key, a stored batch.

The page is textual-serve's xterm.js terminal. Its text is read from xterm's own buffer
(``terminal.buffer.active``): a script injected before the page loads keeps a reference to the
terminal object when textual-serve's page creates it. Skipped where Chromium or its driver is
not installed (``.ci/system-packages`` installs both).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, add_batch, at, cli_env, run
from tests.servers.loopback import free_port
from tui_bench.store import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BATCH = "batch_browser_seen_7f3a"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="Chromium and chromium-driver are not installed "
                       "(apt-get install chromium chromium-driver)"),
]

# Keep the xterm.js Terminal the page creates: textual-serve stores it as `this.terminal`,
# which, with no own property yet, goes through this setter on Object.prototype.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true,
                                             enumerable: true});
    if (value && value.buffer && value.buffer.active) { window.__xterm = value; }
  },
  get() { return undefined; },
});
"""

SCREEN_TEXT = """
const t = window.__xterm;
if (!t) { return ''; }
const b = t.buffer.active, rows = [];
for (let i = 0; i < t.rows; i++) { const l = b.getLine(b.viewportY + i);
  rows.push(l ? l.translateToString(true) : ''); }
return rows.join('\\n');
"""


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tui-bench serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listened on {port} within {timeout} s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    db = tmp_path / "served.db"
    store = Store(db)
    add_batch(store, BATCH, [run(BATCH, "ollama:browser-model", "s1", 0.9)], created_at=at(5))
    store.close()
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bench", "serve", "--port", str(port), "--db", str(db)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        env=cli_env(PYTHONPATH=str(ROOT), TUI_BENCH_CONFIG=str(tmp_path / "settings.json")))
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    printed = (tmp_path / "serve.log").read_text(errors="replace")
    assert f"http://127.0.0.1:{port}" in printed


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    pytest.importorskip("selenium", reason="selenium is in the test extra")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_TERMINAL})
    try:
        yield driver
    finally:
        driver.quit()


def _screen_until(driver: object, check: Callable[[str], bool], timeout: float = 120) -> str:
    """The terminal's text once ``check`` accepts it (polled; apps start slowly on busy CPUs)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = driver.execute_script(SCREEN_TEXT)  # type: ignore[attr-defined]
        if check(text):
            return text
        time.sleep(0.3)
    raise AssertionError(f"screen never matched; last screen:\n{text}")


def test_the_app_in_a_browser_opens_batches_and_shows_a_stored_batch(
        served: tuple[str, subprocess.Popen[bytes]], browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    url, _ = served
    driver = browser
    driver.get(url)  # type: ignore[attr-defined]
    home = _screen_until(driver, lambda t: "Batches" in t and "tui-bench" in t)
    assert "Mark to compare" not in home  # the batches screen is not open yet
    keys = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")  # type: ignore
    keys.send_keys("b")
    screen = _screen_until(driver, lambda t: "Mark to compare" in t and BATCH in t)
    row = next(line for line in screen.splitlines() if BATCH in line)
    assert "finished" in row and "0.900" in row  # the stored batch's status and score
    shot = tmp_path / "serve.png"
    driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 0
    if os.environ.get("TUI_BENCH_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["TUI_BENCH_KEEP_SCREENSHOT"])
