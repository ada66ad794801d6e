"""Every host a batch can use, with its own slots and health: routing and adaptive concurrency.

A host is one server that runs generations (an Ollama server, one replica of an
OpenAI-compatible endpoint) or one model loaded in process. Each has a number of slots (requests
it is given at once) and a health: a host that failed is out of the rotation for a cooldown
that grows with each failure in a row, so its work goes to the others. A call takes a
:class:`Lease` on the least-loaded healthy host that has a free slot (waiting when none has),
and gives it back with what happened, which is what the adaptive limit learns from.

Slots are fixed (``--concurrency``, an Ollama host's one, the embedded model's one) or adaptive
(:class:`AdaptiveLimit`): start low, add slots while every slot is busy and latency holds,
cut back on 429/503 or rising latency. The runner reads :meth:`HostPool.capacity` to decide how
many cells to keep going; screens read :meth:`HostPool.status`.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

COOLDOWN_S = 2.0
"""First time a failed host stays out of the rotation; doubled for each failure in a row."""
MAX_COOLDOWN_S = 60.0
ADAPTIVE_MAX = 256
"""Most slots an adaptive host may grow to."""

current_lease: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "current_lease", default=None)
"""The lease the runner took for the call under way; a backend uses it instead of taking one."""


async def lease_for_call(ours: Callable[[str], bool],
                         reserve: Callable[[], Awaitable[Lease]],
                         given: Lease | None = None) -> tuple[Lease, bool]:
    """The lease a backend's call runs on: ``given``, or the one the runner took for the call
    under way, when its host is one of ``ours``; else a new one from ``reserve``. True when
    the lease is new, so the call itself gives it back."""
    lease = given or current_lease.get()
    if lease is not None and ours(lease.key):
        return lease, False
    return await reserve(), True


class AdaptiveLimit:
    """Slots found by probing (AIMD on latency): start low, grow while latency holds.

    A window is as many finished calls as there are slots. A window in which every slot was
    busy at some point (calls finish in bursts, so not at every finish) and latency stayed
    within ``tolerance`` of the best seen doubles the slots (until the
    first back-off) or adds one (after it). An overload (429/503) cuts the slots by
    ``backoff``; latency past the tolerance cuts them in proportion to how far past it is
    (a call waiting three service times in a server's queue says there are about three
    times too many in flight), by ``backoff`` at least and to a quarter at most, so one
    overshoot is undone in one step instead of several windows of queued calls. Cuts come at
    most once a window, since calls already sent report the same overload. Latency is the
    time to the first token, where a server's queue shows.
    """

    def __init__(self, start: int = 2, *, minimum: int = 1, maximum: int = ADAPTIVE_MAX,
                 tolerance: float = 1.5, slack_s: float = 0.05, backoff: float = 0.7) -> None:
        self.limit = max(minimum, min(start, maximum))
        self.minimum = minimum
        self.maximum = maximum
        self.tolerance = tolerance
        self.slack_s = slack_s
        self.backoff = backoff
        self.best: float | None = None  # lowest latency seen: the unloaded server
        self.slow_start = True
        self._window = 0
        self._saturated = False
        self._late = 0
        self._cut_at = float("-inf")

    def _too_slow(self, latency_s: float) -> bool:
        if self.best is None or latency_s < self.best:
            self.best = latency_s
            return False
        return latency_s > self.best * self.tolerance + self.slack_s

    def record(self, latency_s: float | None, *, busy: int, overloaded: bool = False,
               started: float | None = None) -> bool:
        """One call finished (``busy``: calls in flight when it did, ``started``: when it was
        sent, by ``time.monotonic``). True if the limit moved."""
        # A call sent before the last cut saw the old limit: it says nothing new.
        stale = started is not None and started < self._cut_at
        if overloaded:
            return False if stale else self._cut()
        if latency_s is not None and self._too_slow(latency_s) and not stale:
            self._late += 1
            # One late call is noise; a fifth of a window is a queue forming.
            if self._late * 5 >= max(self.limit, 5):
                assert self.best is not None
                fair = self.best * self.tolerance + self.slack_s
                return self._cut(max(0.25, min(self.backoff, fair / latency_s)))
        self._window += 1
        self._saturated = self._saturated or busy >= self.limit
        if self._window < self.limit:
            return False
        grow = self._saturated and self._late * 5 < max(self.limit, 5)
        self._window, self._saturated, self._late = 0, False, 0
        if not grow or self.limit >= self.maximum:
            return False
        self.limit = min(self.maximum, self.limit * 2 if self.slow_start else self.limit + 1)
        return True

    def _cut(self, factor: float | None = None) -> bool:
        before = self.limit
        self.slow_start = False
        self.limit = max(self.minimum, int(self.limit * (factor or self.backoff)))
        self._window, self._saturated, self._late = 0, False, 0
        self._cut_at = time.monotonic()
        return self.limit != before


@dataclass
class Host:
    """One server (or loaded model) and what the pool knows of it."""

    key: str
    slots: int  # the fixed limit; an adaptive host's current limit lives in ``adaptive``
    adaptive: AdaptiveLimit | None = None
    in_flight: int = 0
    leased: int = 0  # calls ever sent here
    served: int = 0
    failures: int = 0  # in a row
    down_until: float = 0.0
    last_error: str | None = None

    @property
    def limit(self) -> int:
        return self.adaptive.limit if self.adaptive is not None else self.slots

    def healthy(self, now: float) -> bool:
        return self.down_until <= now


@dataclass(frozen=True)
class HostStatus:
    """What a screen or progress line shows of one host."""

    key: str
    slots: int
    in_flight: int
    adaptive: bool
    healthy: bool
    served: int
    last_error: str | None = None
    leased: int = 0


def _short(key: str) -> str:
    """``http://gpu-box:11434`` -> ``gpu-box:11434``; ``.../v1`` dropped."""
    text = key.split("://", 1)[-1]
    return text.removesuffix("/v1")


def slots_line(status: list[HostStatus]) -> str:
    """Requests in flight over slots per host (``~`` adaptive, ``down`` out of rotation), or a
    total once there are too many hosts to list on one line. Hosts never used (a backend
    that was only asked for its models) are left out."""
    status = [h for h in status if h.leased]
    if not status:
        return ""
    down = sum(not h.healthy for h in status)
    if len(status) > 4:
        busy, slots = sum(h.in_flight for h in status), sum(h.slots for h in status)
        return f"{len(status)} hosts {busy}/{slots} slots" + (f", {down} down" if down else "")
    return " · ".join(f"{_short(h.key)} {h.in_flight}/{h.slots}{'~' if h.adaptive else ''}"
                      + ("" if h.healthy else " down") for h in status)


@dataclass
class Lease:
    """One slot on one host, for one call. The backend says how the call went."""

    pool: HostPool
    host: Host
    candidates: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token_s: float | None = None
    outcome: str = "ok"  # ok | overloaded | failed | refused | cancelled
    error: str | None = None
    released: bool = False

    @property
    def key(self) -> str:
        return self.host.key

    def first_token(self) -> None:
        if self.first_token_s is None:
            self.first_token_s = time.monotonic() - self.started

    def fail(self, error: BaseException) -> None:
        """How the call failed: overloaded (429/503: fewer slots), a fault that may pass (the
        host leaves the rotation for a while), or a refusal that says nothing of the host."""
        if self.outcome != "ok":
            return
        if getattr(error, "overloaded", False):
            self.outcome = "overloaded"
        elif getattr(error, "transient", False):
            self.outcome = "failed"
        else:
            self.outcome = "refused"
        self.error = str(error)

    def others_healthy(self) -> bool:
        """Another candidate host is in the rotation: a retry can go there at once."""
        return self.pool.has_other_healthy(self.candidates, self.key)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool._release(self)


Listener = Callable[[], None]


class HostPool:
    """All hosts of every backend; one per ``BackendPool`` and event loop."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 cooldown_s: float = COOLDOWN_S) -> None:
        self.hosts: dict[str, Host] = {}
        self.clock = clock
        self.cooldown_s = cooldown_s
        self.fixed_slots: int | None = None  # --concurrency: every host this many, not adaptive
        self._turn = 0
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Listener] = []

    # ---- hosts

    def add(self, key: str, *, slots: int = 1, adaptive: bool = False,
            start: int | None = None, maximum: int = ADAPTIVE_MAX) -> Host:
        """Register a host (once; a second call returns the first)."""
        host = self.hosts.get(key)
        if host is None:
            limit = AdaptiveLimit(start or slots, maximum=maximum) if adaptive else None
            host = Host(key=key, slots=max(1, slots), adaptive=limit)
            self.hosts[key] = host
        return host

    def set_slots(self, key: str, slots: int, *, adaptive: bool = False) -> None:
        """What a server said of its capacity: ``slots`` at once (probed from there when
        ``adaptive``)."""
        host = self.hosts[key]
        host.slots = max(1, slots)
        host.adaptive = AdaptiveLimit(host.slots) if adaptive else None
        self._notify()

    def set_fixed_slots(self, slots: int | None) -> None:
        """``--concurrency N``: every host takes exactly N at once (``None``: their own)."""
        self.fixed_slots = slots
        self._notify()

    def limit(self, host: Host) -> int:
        return self.fixed_slots if self.fixed_slots is not None else host.limit

    def capacity(self, keys: Iterable[str] | None = None) -> int:
        """Slots of the healthy hosts among ``keys`` (all hosts when ``None``); at least 1."""
        now = self.clock()
        chosen = [self.hosts[k] for k in (self.hosts if keys is None else keys)
                  if k in self.hosts]
        total = sum(self.limit(h) for h in chosen if h.healthy(now))
        return max(total, 1)

    def status(self) -> list[HostStatus]:
        now = self.clock()
        return [HostStatus(h.key, self.limit(h), h.in_flight,
                           h.adaptive is not None and self.fixed_slots is None, h.healthy(now),
                           h.served, h.last_error, h.leased) for h in self.hosts.values()]

    def in_flight(self) -> dict[str, int]:
        return {k: h.in_flight for k, h in self.hosts.items()}

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` when capacity or health changes; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        for listener in list(self._listeners):
            listener()

    # ---- leases

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:
            self._changed, self._loop = asyncio.Event(), loop
        return self._changed

    def _pick(self, keys: list[str]) -> Host | None:
        """Least loaded (by share of its slots) healthy host with a free slot; round-robin on
        ties. When every candidate is down, the one back soonest is tried (it reports the
        real fault rather than a made-up one)."""
        now = self.clock()
        hosts = [self.hosts[k] for k in keys]
        healthy = [h for h in hosts if h.healthy(now)]
        if not healthy:
            soonest = min(hosts, key=lambda h: h.down_until)
            healthy = [soonest] if soonest.in_flight < self.limit(soonest) else []
        free = [h for h in healthy if h.in_flight < self.limit(h)]
        if not free:
            return None
        n = len(keys)
        order = {k: i for i, k in enumerate(keys)}
        start = self._turn % max(n, 1)
        best = min(free, key=lambda h: (h.in_flight / self.limit(h), h.in_flight,
                                        (order[h.key] - start) % n))
        self._turn = order[best.key] + 1
        return best

    async def acquire(self, keys: list[str]) -> Lease:
        """A slot on one of ``keys`` (registered hosts), waiting for one to free up."""
        if not keys:
            raise ValueError("no host to choose from")
        changed = self._event()
        while True:
            host = self._pick(keys)
            if host is not None:
                host.in_flight += 1
                host.leased += 1
                return Lease(self, host, list(keys))
            changed.clear()
            now = self.clock()
            wake = [h.down_until - now for h in (self.hosts[k] for k in keys)
                    if h.down_until > now]
            try:
                await asyncio.wait_for(changed.wait(), timeout=min(wake) if wake else None)
            except TimeoutError:
                pass

    def _release(self, lease: Lease) -> None:
        host = lease.host
        busy = host.in_flight
        host.in_flight -= 1
        if lease.outcome == "ok":
            host.served += 1
            host.failures = 0
            if host.adaptive is not None:
                host.adaptive.record(lease.first_token_s or (time.monotonic() - lease.started),
                                     busy=busy, started=lease.started)
        elif lease.outcome == "overloaded":
            host.last_error = lease.error
            if host.adaptive is not None:
                host.adaptive.record(None, busy=busy, overloaded=True, started=lease.started)
        elif lease.outcome == "failed":
            host.failures += 1
            host.last_error = lease.error
            cooldown = min(MAX_COOLDOWN_S, self.cooldown_s * 2 ** (host.failures - 1))
            host.down_until = self.clock() + cooldown
        self._notify()

    def has_other_healthy(self, keys: list[str], but: str) -> bool:
        now = self.clock()
        return any(k != but and self.hosts[k].healthy(now) for k in keys if k in self.hosts)
