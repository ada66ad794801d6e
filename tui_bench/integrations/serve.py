"""The full app in a browser through ``textual-serve``: one app process per browser tab.

textual-serve runs a small aiohttp server; each tab that connects gets its own subprocess of
the command built here, talking to the page over a websocket, so every screen works as in the
terminal. The app has no authentication of its own: binding anything but loopback is an
explicit choice, and it is warned about.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: nobody else can reach those."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServePlan:
    """What ``tui-bench serve`` will run: where it listens and the app command per tab."""

    host: str = LOOPBACK
    port: int = DEFAULT_PORT
    app_args: list[str] = field(default_factory=list)  # passed to every tab's `tui-bench`
    public_url: str | None = None
    db: str | None = None  # the database every tab opens (also in app_args)

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def command(self) -> str:
        """The shell command textual-serve spawns per tab: this Python, this package."""
        return shlex.join([sys.executable, "-m", "tui_bench", *self.app_args])

    @property
    def exposed(self) -> bool:
        return not is_loopback(self.host)


def app_arguments(*, db: str | None, options: Sequence[tuple[str, str | Sequence[str] | None]]
                  ) -> list[str]:
    """The command-line options every tab's app gets, so it opens the same data."""
    out: list[str] = []
    if db:
        out += ["--db", db]
    for flag, value in options:
        if value is None:
            continue
        for item in [value] if isinstance(value, str) else value:
            out += [flag, str(item)]
    return out


def serve(plan: ServePlan) -> None:
    """Run the web server until Ctrl+C (blocks)."""
    from textual_serve.server import Server

    server = Server(plan.command, host=plan.host, port=plan.port, title="tui-bench",
                    public_url=plan.url)
    server.serve()
