"""Key press to screen update in the judging screen, idle and while a batch streams.

Measured from the key event entering the app to the slider's value moving (the repaint
follows within one frame, 60 per second at most). The batch runs on the real embedded model in the same event loop as the app (as in the TUI's
live run), its tokens arriving many times a second. Prints p50/p95/max per key for both.

    python benchmarks/judge_latency.py [--presses 60] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from textual.app import App

from tui_bench.catalog import load_catalog
from tui_bench.domain import BatchSpec, GenerationOptions
from tui_bench.engine.events import Token
from tui_bench.engine.runner import Runner
from tui_bench.locations import shipped
from tui_bench.store import Store
from tui_bench.store.judging import QueueFilter
from tui_bench.tui.screens.judge import JudgeScreen


class Host(App[None]):
    def __init__(self, screen: JudgeScreen) -> None:
        super().__init__()
        self._judge = screen

    def on_mount(self) -> None:
        self.push_screen(self._judge)


async def press_times(app: App[None], screen: JudgeScreen, keys: list[str]) -> list[float]:
    """Milliseconds from a key event entering the app until the slider's value has moved.

    Pilot.press is no use here: it waits until the process is idle, which it never is while
    a model generates in the same process, so it would time its own one-second wait.
    """
    from textual import events

    times = []
    for key in keys:
        sheet = screen.sheet
        assert sheet is not None
        before = sheet.value(sheet.current.id)
        event = events.Key(key, None)
        event.set_sender(app)
        started = time.perf_counter()
        app._driver.send_message(event)  # type: ignore[union-attr]
        while screen.sheet is sheet and sheet.value(sheet.current.id) == before:
            await asyncio.sleep(0.0005)
            if time.perf_counter() - started > 10:
                raise RuntimeError(f"key {key!r} was not handled within 10 s")
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)  # a person does not press faster than this
    return times


def describe(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (f"{label}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
            f"max {max(times):.1f} ms over {len(times)} presses")


async def main_async(presses: int, max_tokens: int) -> None:
    catalog = load_catalog([shipped("scenarios")])
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "latency.db")
        # Something to judge: one quick run.
        await Runner(store, catalog).run(BatchSpec(
            batch_id="to-judge", models=["embedded:smollm2"], scenarios=["coding-fizzbuzz"],
            options=GenerationOptions(max_tokens=32)))
        tokens = 0

        def count(event: object) -> None:
            nonlocal tokens
            if isinstance(event, Token):
                tokens += 1

        screen = JudgeScreen(store=store, catalog=catalog, judge="bench",
                             filters=QueueFilter(shuffled=False))
        app = Host(screen)
        keys = ["right", "left"] * (presses // 2)
        async with app.run_test(size=(160, 48)) as pilot:
            while screen.sheet is None:  # the first run is read in a worker
                await pilot.pause(0.05)
            await pilot.press("down", "up", "5")  # a value to move from
            idle = await press_times(app, screen, keys)
            runner = Runner(store, catalog, on_event=count)
            batch = asyncio.create_task(runner.run(BatchSpec(
                batch_id="streaming", models=["embedded:smollm2"],
                scenarios=["writing-tip-new-manager", "coding-slugify"], iterations=3,
                options=GenerationOptions(max_tokens=max_tokens))))
            while tokens < 5:
                await asyncio.sleep(0.05)
            streaming_from = tokens
            started = time.perf_counter()
            busy = await press_times(app, screen, keys)
            rate = (tokens - streaming_from) / (time.perf_counter() - started)
            runner.cancel()
            await batch
            await runner.pool.aclose()
        print(describe("judging screen, idle          ", idle))
        print(describe("judging screen, batch streaming", busy))
        print(f"tokens streamed per second during the busy presses: {rate:.1f}")
        print(f"ratio p50 busy/idle: {statistics.median(busy) / statistics.median(idle):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    asyncio.run(main_async(args.presses, args.max_tokens))


if __name__ == "__main__":
    main()
