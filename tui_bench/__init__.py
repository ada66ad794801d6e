"""tui-bench: benchmark language models from the terminal."""

import logging
import os

__version__ = "0.1.0"

_log = logging.getLogger("tui_bench")
_log.addHandler(logging.NullHandler())  # never a traceback on a user's terminal
if os.environ.get("TUI_BENCH_LOG"):  # opt-in diagnostics: TUI_BENCH_LOG=/tmp/tui-bench.log
    _handler = logging.FileHandler(os.environ["TUI_BENCH_LOG"])
    _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.DEBUG)
