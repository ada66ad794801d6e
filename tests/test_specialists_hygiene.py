"""The specialists package is UI-free: the headless run and the CLI never pay for Textual."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import cli_env


def test_specialists_import_neither_textual_nor_rich() -> None:
    code = ("import sys, tui_bench.specialists, tui_bench.specialists.enrich, "
            "tui_bench.specialists.fetch, tui_bench.specialists.mint; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env=cli_env())
    assert done.returncode == 0, done.stdout + done.stderr
