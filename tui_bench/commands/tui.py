"""Open the full-screen app. Textual is imported here and only here on the CLI path."""

from __future__ import annotations

import argparse

from tui_bench.commands.context import CommandError, load, open_store, settings_from


def open_tui(args: argparse.Namespace) -> int:
    from tui_bench.tui.app import make_app

    try:
        store = open_store(args)
    except CommandError as exc:
        print(f"tui-bench: {exc}")
        return 1
    try:
        # Scenario problems are shown on the home screen, not printed over the terminal.
        app = make_app(store=store, catalog=load(args, warn=None), settings=settings_from(args))
        app.run()
    finally:
        store.close()
    return int(app.return_code or 0)
