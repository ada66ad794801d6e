"""What a template's documentation links may reach: the rule, kept apart from the fetching.

Templates come from other people. A link to ``file:///etc/shadow`` or to a loopback admin
page must not be read and sent to a model server. So: files only inside the template's own
folder or under a path the user allowed (``--allow-path``); network hosts only when every
address they resolve to is public, unless the user allowed private ones (``--allow-private``).
The check is made on the resolved address, which the fetch then connects to (no second lookup
an attacker's DNS could answer differently), and again on every redirect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PolicyError(Exception):
    """A source the policy refuses; the message says which rule and how to allow it."""


@dataclass(frozen=True)
class FetchPolicy:
    """``allowed_paths``: files or folders outside the template folder that may be read;
    ``allow_private``: loopback, private, link-local and other non-public hosts may be
    fetched."""

    allowed_paths: tuple[Path, ...] = field(default_factory=tuple)
    allow_private: bool = False

    def check_file(self, path: Path, root: Path) -> Path:
        """``path`` resolved (symlinks followed), if inside ``root`` or an allowed path."""
        target = path.resolve()
        bases = [root.resolve(), *(p.resolve() for p in self.allowed_paths)]
        if any(target == base or target.is_relative_to(base) for base in bases):
            return target
        raise PolicyError(f"{path} is outside the template's folder ({root}); "
                          f"allow it with --allow-path {path}")

    def check_address(self, host: str, address: IPAddress) -> None:
        if self.allow_private or address.is_global:
            return
        kind = ("loopback" if address.is_loopback else "link-local" if address.is_link_local
                else "private" if address.is_private else "non-public")
        raise PolicyError(f"{host} resolves to {kind} address {address}; refused "
                          "(allow it with --allow-private)")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve_checked(host: str, port: int, policy: FetchPolicy) -> IPAddress:
    """The address to connect to for ``host``: every address it resolves to must pass."""
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise PolicyError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise PolicyError(f"cannot resolve {host}: no address")
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        policy.check_address(host, mapped or address)
    return addresses[0]
