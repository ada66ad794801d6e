"""Key-press latency in the live run screen while a batch streams on the embedded model.

Presses down/up in the cells table and measures the time from posting the key to the
screen's RowHighlighted handler running, first with nothing running (baseline), then while
SmolLM2 streams tokens into the live screen. Prints p50/p95/max in milliseconds.

    /work/venv/bin/python benchmarks/tui_latency.py [--presses 80] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tui_bench import locations
from tui_bench.catalog import Catalog, load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.plan import new_batch_id
from tui_bench.settings import Settings
from tui_bench.store import Store


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "max": max(values), "mean": statistics.fmean(values)}


async def _press_and_time(app: Any, screen: Any, key: str) -> float:
    """Post a key as the terminal driver would and wait for the screen's handler to run.

    ``pilot.press`` is not used: it waits for the process to go idle, which it never does
    while llama.cpp threads compute.
    """
    before = time.perf_counter()
    app.simulate_key(key)
    while screen.last_highlight_at < before:
        await asyncio.sleep(0.0005)
    return (screen.last_highlight_at - before) * 1000


async def measure(*, presses: int = 80, max_tokens: int = 256, cells: int = 4,
                  catalog: Catalog | None = None, db: Path | None = None,
                  size: tuple[int, int] = (120, 36)) -> dict[str, Any]:
    """Run a batch in the app and time key handling while it streams; returns the figures."""
    from tui_bench.tui.app import make_app
    from tui_bench.tui.screens.live import LiveScreen

    catalog = catalog or load_catalog(locations.scenarios_dirs())
    coding = sorted(s.id for s in catalog.scenarios.values() if s.suite == "coding")
    if len(coding) < 2:
        raise SystemExit("needs at least two coding scenarios")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(db or Path(tmp) / "latency.db")
        app = make_app(store=store, catalog=catalog, settings=Settings(),
                       config_path=Path(tmp) / "settings.json", discover=False)
        spec = BatchSpec(batch_id=new_batch_id(), models=["embedded:smollm2"],
                         scenarios=(coding * cells)[:cells] if cells <= len(coding)
                         else coding, options=GenerationOptions(max_tokens=max_tokens))
        async with app.run_test(size=size) as pilot:
            session = app.start_batch(spec)
            assert session is not None
            app.show_live()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LiveScreen)
            state = session.state
            deadline = time.monotonic() + 120
            while state.generating == 0 or len(state.order) < 2:
                if time.monotonic() > deadline or not session.active:
                    raise RuntimeError("the batch never started streaming")
                await pilot.pause(0.05)
            # Make sure there are two rows to move between.
            while screen.query_one("#cells").row_count < 2:
                await pilot.pause(0.05)
            streaming: list[float] = []
            tokens_before = state.live_tokens_out
            started = time.perf_counter()
            for i in range(presses):
                if not session.active:
                    break
                streaming.append(await _press_and_time(app, screen, "down" if i % 2 == 0
                                                       else "up"))
                await asyncio.sleep(0.05)  # a quick typist: twenty keys a second
            span = time.perf_counter() - started
            tokens = state.live_tokens_out - tokens_before
            app.session.cancel()  # type: ignore[union-attr]
            await app.stop_batch()
            await pilot.pause(0.2)
            idle = []
            for i in range(min(presses, 40)):
                idle.append(await _press_and_time(app, screen, "down" if i % 2 == 0 else "up"))
                await asyncio.sleep(0.05)
        store.close()
    return {"streaming": summary(streaming) if streaming else None, "idle": summary(idle),
            "tokens_during": tokens, "tokens_per_s_during": tokens / span if span else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=80)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--cells", type=int, default=4)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(presses=args.presses, max_tokens=args.max_tokens,
                                 cells=args.cells))
    for label in ("idle", "streaming"):
        figures = result[label]
        if figures is None:
            print(f"{label:>10}: no presses (the batch ended first)")
            continue
        print(f"{label:>10}: n={figures['n']:<3} p50 {figures['p50']:6.1f} ms   "
              f"p95 {figures['p95']:6.1f} ms   max {figures['max']:6.1f} ms")
    print(f"tokens streamed while pressing: {result['tokens_during']} "
          f"({result['tokens_per_s_during']:.0f} tokens/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
