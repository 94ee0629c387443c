"""Samples written per second by the store, SQLite against PostgreSQL, for a 500-mast fleet.

Each poll round, every mast of the fleet hands the store the samples one poll
of a dual-band mast yields (reachable, poll time, uptime, load, free memory,
clients/utilisation/noise per band, link state of two ports: 13 samples), as
the engine's pollers do (one ``add_samples`` per device and poll, all masts at
once). Every write returns only after its commit, on both backends. Printed:
samples/s and writes/s for each backend and the PostgreSQL/SQLite ratio (the
anchor: SQLite on the same machine in the same run).

PostgreSQL is a throw-away cluster started here (initdb + pg_ctl on a Unix
socket, ``fsync`` on, as a server runs), unless ``--pg-url`` names one (its
password in ``$PGPASSWORD``). The SQLite store is a file in a temporary folder.

Then, in the same run, the standby engine's failover time (SIGKILL of the active
engine to the standby's first poll, against the poll period measured alongside),
from ``benchmarks/failover.py`` (``--failover-rounds 0`` leaves it out).

Run: ``python benchmarks/store_scale.py [--masts 500] [--rounds 20] [--failover-rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eventops.store import PostgresStore, SQLiteStore  # noqa: E402
from eventops.store.base import Store  # noqa: E402
from eventops.store.models import Sample  # noqa: E402
from tests.helpers.pgcluster import PgCluster, find_bin_dir  # noqa: E402

T0 = datetime(2026, 6, 18, 14, 0, tzinfo=UTC)
METRICS = (
    "reachable", "poll_s", "uptime_s", "load1", "mem_free_pct",
    "clients.2g", "util.2g", "noise.2g", "clients.5g", "util.5g", "noise.5g",
    "oper_up.lan1", "oper_up.wan",
)  # fmt: skip


def poll(mast: int, round_: int) -> list[Sample]:
    now = T0 + timedelta(seconds=10 * round_, milliseconds=mast)
    return [
        Sample(ts=now, device=f"mast-{mast:03d}", metric=m, value=float((mast * 7 + i) % 97))
        for i, m in enumerate(METRICS)
    ]


async def run(store: Store, masts: int, rounds: int) -> tuple[float, int, int]:
    """(seconds, samples, writes) for ``rounds`` poll rounds of the whole fleet."""
    async with store:
        await asyncio.gather(*(store.add_samples(poll(m, -1)) for m in range(masts)))  # warm
        batches = [[poll(m, r) for m in range(masts)] for r in range(rounds)]
        t = time.perf_counter()
        for batch in batches:
            await asyncio.gather(*(store.add_samples(b) for b in batch))
        took = time.perf_counter() - t
        stored = len(await store.query_samples("mast-000", "reachable", T0, T0 + timedelta(days=1)))
        assert stored == rounds, f"mast-000 has {stored} of {rounds} samples"
    return took, masts * rounds * len(METRICS), masts * rounds


async def main(masts: int, rounds: int, pg_url: str | None) -> None:
    results: dict[str, tuple[float, int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="evo-store-bench-") as d:
        results["sqlite"] = await run(SQLiteStore(Path(d) / "bench.sqlite3"), masts, rounds)
    cluster = None
    password: str | None
    try:
        if pg_url is None:
            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
            cluster = PgCluster(bin_dir, fsync=True).start()
            pg_url, password = cluster.url(cluster.create_database("bench")), cluster.password
        else:
            password = os.environ.get("PGPASSWORD")
        store = PostgresStore(pg_url, event_id="bench", password=password)
        results["postgresql"] = await run(store, masts, rounds)
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"store_scale: {masts} masts x {rounds} poll rounds, {len(METRICS)} samples per poll")
    rate = {}
    for name, (took, samples, writes) in results.items():
        rate[name] = samples / took
        print(
            f"  {name:<10} {samples / took:>10,.0f} samples/s  {writes / took:>8,.0f} writes/s  "
            f"({samples:,} samples in {took:.2f} s)"
        )
    print(f"  ratio postgresql/sqlite: {rate['postgresql'] / rate['sqlite']:.2f}")


async def failover_time(rounds: int) -> None:
    """The standby engine's failover time (benchmarks/failover.py), in this same run."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import failover  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"failover: not measured (benchmarks/failover.py: {exc})")
        return
    args = failover.parser().parse_args(["--rounds", str(rounds)])
    figures, anchors = await failover.measure(args)
    print(failover.summary(args, figures, anchors))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--masts", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--pg-url", help="an existing database (password in $PGPASSWORD)")
    ap.add_argument("--failover-rounds", type=int, default=3, help="0: no failover rounds")
    a = ap.parse_args()
    asyncio.run(main(a.masts, a.rounds, a.pg_url))
    if a.failover_rounds > 0:
        asyncio.run(failover_time(a.failover_rounds))
