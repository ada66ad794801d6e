"""The report layer is UI-free: analysis imports neither Textual nor rich, and the report,
export, batches and weights commands never load Textual."""

from __future__ import annotations

import subprocess
import sys

ANALYSIS = ("leaderboard", "findings", "report", "compare", "gate", "weights", "export", "html",
            "charts", "dashboard")
COMMANDS = ("report", "export", "batches", "weights", "serve", "mlflow")


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted("
                          "{m.split('.')[0] for m in sys.modules})))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_analysis_imports_no_ui() -> None:
    loaded = _loaded("\n".join(f"import tui_bench.analysis.{m}" for m in ANALYSIS))
    assert "textual" not in loaded and "rich" not in loaded


def test_commands_do_not_load_textual() -> None:
    loaded = _loaded("\n".join(f"import tui_bench.commands.{m}" for m in COMMANDS))
    assert "textual" not in loaded


def test_integrations_import_no_ui() -> None:
    loaded = _loaded("import tui_bench.integrations.mlflow\nimport tui_bench.integrations.serve")
    # (httpx itself loads rich for its optional command line, so only Textual is checked)
    assert "textual" not in loaded and "textual_serve" not in loaded
