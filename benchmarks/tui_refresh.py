"""How much cheaper is the terminal app's incremental redraw than a naive rebuild?

Headless (Textual's test driver), one process, same data: a Masts table with
500 masts. A *status update* is one ``device`` event per mast (as the engine
streams them) applied to the app's live state; then the app draws it:

- incremental: the app's own path (coalesced dirty ids, ``RowTable.sync``:
  only cells that changed are updated, only visible lines are painted);
- naive: the same events, then the whole table is cleared and every row added
  again (what a first version would do).

Both include the screen refresh (``pilot.pause()``). Printed: ms per update
and the ratio naive / incremental, for a full update (every mast changed) and
a typical one (one mast in ten changed); also the time spent only applying the
events to the state (validation), which both paths pay, and the ratio of the
drawing alone.

    .venv/bin/python benchmarks/tui_refresh.py [--masts 500] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from eventops.tui.app import EventOpsApp
from eventops.tui.client import StreamEvent, WhoAmI
from eventops.tui.config import TuiConfig
from eventops.tui.screens.devices import DevicesTable


def device(i: int, clients: int, health: str = "ok") -> dict[str, Any]:
    return {
        "id": f"mast-{i:03d}",
        "kind": "mast",
        "site": f"site-{i % 17}",
        "reachable": True,
        "health": health,
        "score": 1000,
        "reason": "ok",
        "clients": clients,
        "uptime_s": 3600.0 + i,
    }


async def run(masts: int, rounds: int) -> dict[str, float]:
    app = EventOpsApp(None, TuiConfig(language="en", timezone="UTC", refresh_s=10))
    seq = iter(range(1, 10**9))
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        app.who = WhoAmI(name="bench", role="technician")
        await app.setup_role()
        snap = {"devices": [device(i, 1) for i in range(masts)], "links": [], "alerts": []}
        app.state.apply(StreamEvent(id=next(seq), type="snapshot", data=snap))
        app.show_view("masts")
        app.flush()
        await pilot.pause()
        table = app.query_one("#masts", DevicesTable)
        table.sort_by = "id"
        table.sync(None)
        await pilot.pause()
        assert table.row_count == masts

        def update(r: int, every: int) -> None:
            for i in range(0, masts, every):
                ev = {"data": device(i, 2 + (r + i) % 9)}
                app.state.apply(StreamEvent(id=next(seq), type="device", data=ev))

        async def incremental(r: int, every: int) -> float:
            t0 = time.perf_counter()
            update(r, every)
            app.flush()
            await pilot.pause()
            return time.perf_counter() - t0

        async def naive(r: int, every: int) -> float:
            t0 = time.perf_counter()
            update(r, every)
            app.state.take_dirty()
            table.clear()
            for key in table.visible_keys():
                table.add_row(
                    table.mark_cell(key), *table.cells(key, app.state.devices[key]), key=key
                )
            await pilot.pause()
            return time.perf_counter() - t0

        async def apply_only(r: int, every: int) -> float:
            t0 = time.perf_counter()
            update(r, every)
            dt = time.perf_counter() - t0
            app.state.take_dirty()
            return dt

        idle = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await pilot.pause()
            idle.append(time.perf_counter() - t0)
        out["idle_ms"] = statistics.median(idle) * 1e3

        for label, every in (("full", 1), ("tenth", 10)):
            inc, nai, app_ = [], [], []
            for r in range(rounds):  # interleaved, so both see the same machine load
                app_.append(await apply_only(r + 1000, every))
                inc.append(await incremental(r, every))
                nai.append(await naive(r, every))
                table._order = []  # the naive rebuild invalidated what sync() drew
                table.sync(None)
                await pilot.pause()
            assert str(table.get_cell("mast-000", "clients")) == str(2 + (rounds - 1) % 9)
            out[f"{label}_incremental_ms"] = statistics.median(inc) * 1e3
            out[f"{label}_naive_ms"] = statistics.median(nai) * 1e3
            out[f"{label}_apply_ms"] = statistics.median(app_) * 1e3
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--masts", type=int, default=500)
    p.add_argument("--rounds", type=int, default=10)
    a = p.parse_args()
    r = asyncio.run(run(a.masts, a.rounds))
    print(f"anchor: one idle screen refresh (pilot.pause) {r['idle_ms']:.1f} ms")
    for label in ("full", "tenth"):
        inc, nai = r[f"{label}_incremental_ms"], r[f"{label}_naive_ms"]
        ev = r[f"{label}_apply_ms"]
        print(
            f"{label:>5} update of {a.masts} masts: incremental {inc:7.1f} ms, "
            f"naive rebuild {nai:7.1f} ms, ratio naive/incremental {nai / inc:5.2f}; "
            f"of which applying the events {ev:6.1f} ms (drawing alone: ratio "
            f"{(nai - ev) / max(inc - ev, 1e-3):5.2f})"
        )


if __name__ == "__main__":
    main()
