"""``tui-bench serve``: the full app in a browser tab, through textual-serve.

Listens on 127.0.0.1 by default. ``--host ADDRESS`` binds elsewhere and prints a warning: the
app has no authentication, so anyone who can reach the port can run batches and read results.
Every tab runs its own app against the same ``--db`` (and scenario, template and backend
options) as the server was given.
"""

from __future__ import annotations

import argparse
import os
import sys

from tui_bench import locations
from tui_bench.commands.errors import CommandError, UsageError
from tui_bench.integrations.serve import DEFAULT_PORT, LOOPBACK, ServePlan, app_arguments

# Options of `add_common` passed through to every tab's app, as (flag, attribute).
PASSED_ON = (("--scenarios-dir", "scenarios_dir"), ("--templates-dir", "templates_dir"),
             ("--ollama-host", "ollama_host"), ("--keep-alive", "keep_alive"),
             ("--max-model-b", "max_model_b"), ("--openai-base-url", "openai_base_url"),
             ("--price-in", "price_in"), ("--price-out", "price_out"),
             ("--retries", "retries"), ("--timeout", "timeout"), ("--threads", "threads"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=LOOPBACK, metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1; anything else is "
                        "reachable by others, and the app has no authentication)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                        help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--public-url", metavar="URL",
                        help="the address browsers use, when behind a proxy or another name")


def plan_from(args: argparse.Namespace) -> ServePlan:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: {args.port} is not a port (1..65535)")
    db = os.path.abspath(locations.db_path(getattr(args, "db", None)))
    options = []
    for flag, name in PASSED_ON:
        value = getattr(args, name, None)
        if isinstance(value, list):
            value = [os.path.abspath(v) if name.endswith("_dir") else v for v in value]
        elif isinstance(value, str) and name.endswith("_dir"):
            value = os.path.abspath(value)
        options.append((flag, value if value is None or isinstance(value, (str, list))
                        else str(value)))
    return ServePlan(host=args.host, port=args.port, public_url=args.public_url, db=db,
                     app_args=app_arguments(db=db, options=options))


def run(args: argparse.Namespace) -> int:
    plan = plan_from(args)
    if plan.exposed:
        print(f"warning: serving on {plan.host}, reachable from other machines; tui-bench has "
              "no authentication: anyone who reaches this port can run batches and read "
              "results", file=sys.stderr)
    print(f"tui-bench in a browser: {plan.url}  (database {plan.db}; Ctrl+C stops)",
          flush=True)
    if getattr(args, "openai_api_key", None):
        # Each tab's app inherits the environment; a key on its command line would show in ps.
        os.environ["OPENAI_API_KEY"] = args.openai_api_key
    from tui_bench.integrations.serve import serve

    try:
        serve(plan)
    except OSError as exc:
        raise CommandError(f"cannot listen on {plan.host}:{plan.port}: "
                           f"{exc.strerror or exc}") from None
    return 0
