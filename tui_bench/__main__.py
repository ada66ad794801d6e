"""``python -m tui_bench`` is ``tui-bench``."""

import sys

from tui_bench.cli import main

sys.exit(main())
