"""What a standby's lease step costs the database, against what the active engine's polls cost.

A standby engine, at every lease step, reads the newest stored sample of every
series its views show (``Store.latest_samples``, eventops.engine.readings) and
records its presence (one heartbeat statement, eventops.store.presence); the
active engine renews its lease and writes its polls. Measured here, on a store
that already holds ``--hours`` of history of a ``--masts`` fleet (13 samples
per poll every 10 s):

- the standby's read of the whole fleet's series, against the anchor: one poll
  round of the whole fleet written by the active engine (``add_samples`` per
  mast, all at once), on SQLite and PostgreSQL;
- the presence heartbeat, against the anchor: the lease renewal (PostgreSQL).

A read that grew with the history (a scan instead of an index seek per series)
would show as a ratio that grows with ``--hours``.

Run: ``python benchmarks/standby_reads.py [--masts 200] [--hours 2] [--repeat 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eventops.store import PostgresStore, SQLiteStore  # noqa: E402
from eventops.store.base import Store  # noqa: E402
from eventops.store.lease import LeaderLease  # noqa: E402
from eventops.store.models import Sample  # noqa: E402
from tests.helpers.pgcluster import PgCluster, find_bin_dir  # noqa: E402

T0 = datetime(2026, 6, 18, 8, 0, tzinfo=UTC)
METRICS = (
    "reachable", "poll_s", "uptime_s", "load1", "mem_free_pct",
    "clients.2g", "util.2g", "noise.2g", "clients.5g", "util.5g", "noise.5g",
    "oper_up.lan1", "oper_up.wan",
)  # fmt: skip
SHOWN = ("reachable", "poll_s", "uptime_s", "clients.2g", "clients.5g", "clients.6g")
"""The series a standby reads per mast (eventops.engine.readings.series_of)."""


def poll(mast: int, round_: int) -> list[Sample]:
    now = T0 + timedelta(seconds=10 * round_, milliseconds=mast)
    return [
        Sample(ts=now, device=f"mast-{mast:03d}", metric=m, value=float((mast + i) % 97))
        for i, m in enumerate(METRICS)
    ]


async def median_s(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def measure(store: Store, masts: int, rounds: int, repeat: int) -> tuple[float, float]:
    """(seconds of one standby read, seconds of one poll round written), medians."""
    series = [(f"mast-{m:03d}", s) for m in range(masts) for s in SHOWN]
    async with store:
        for r in range(rounds):
            await store.add_samples([s for m in range(masts) for s in poll(m, r)])
        got = await store.latest_samples(series)
        assert len(got) == masts * 5, len(got)  # no 6g samples
        assert max(s.ts for s in got) == T0 + timedelta(
            seconds=10 * (rounds - 1), milliseconds=masts - 1
        )
        read = await median_s(lambda: store.latest_samples(series), repeat)
        nxt = iter(range(rounds, rounds + repeat))

        async def one_round() -> None:
            r = next(nxt)
            await asyncio.gather(*(store.add_samples(poll(m, r)) for m in range(masts)))

        write = await median_s(one_round, repeat)
    return read, write


async def main(masts: int, hours: float, repeat: int) -> None:
    rounds = int(hours * 360)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="evo-standby-bench-") as d:
        results["sqlite"] = await measure(SQLiteStore(Path(d) / "b.sqlite3"), masts, rounds, repeat)
    cluster = PgCluster(bin_dir, fsync=True).start()
    try:
        db = cluster.create_database("bench")
        url = cluster.url(db)
        store = PostgresStore(url, event_id="bench", password=cluster.password)
        results["postgresql"] = await measure(store, masts, rounds, repeat)
        dsn = cluster.dsn(db)
        async with (
            LeaderLease(dsn, "bench", address="http://a:1", ttl_s=30) as active,
            LeaderLease(dsn, "bench", address="http://b:1", ttl_s=30) as standby,
        ):
            assert await active.acquire()
            await standby.heartbeat("standby", live_s=90)
            renew = await median_s(active.renew, repeat)
            beat = await median_s(lambda: active.heartbeat("active", live_s=90), repeat)
    finally:
        cluster.stop()
    n = masts * rounds * len(METRICS)
    print(f"standby_reads: {masts} masts, {hours:g} h of history ({n:,} samples), {repeat} repeats")
    for name, (read, write) in results.items():
        print(
            f"  {name:<10} standby read of {masts * len(SHOWN)} series {read * 1e3:8.2f} ms, "
            f"one poll round written {write * 1e3:8.2f} ms, ratio read/write {read / write:.3f}"
        )
    print(
        f"  presence heartbeat {beat * 1e3:.2f} ms, lease renewal {renew * 1e3:.2f} ms, "
        f"ratio {beat / renew:.2f}"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--masts", type=int, default=200)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    asyncio.run(main(a.masts, a.hours, a.repeat))
