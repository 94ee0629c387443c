"""Child process for the store kill test.

Writes numbered samples, multi-row applies and audit entries to the store
given on the command line (an SQLite path, or a ``postgresql://`` URL of event
``demo`` whose password is in $EVENTOPS_TEST_PGPASSWORD), printing one acknowledgement line per write only
after the store returned (i.e. after commit). The parent kills it at random.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

from eventops.store import SQLiteStore
from eventops.store.base import Store
from eventops.store.models import ApplyDeviceRow, ApplyRow, Sample
from eventops.store.postgres import PostgresStore

DEVICES_PER_APPLY = 8
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def open_target(target: str) -> Store:
    if target.startswith("postgresql://"):
        password = os.environ["EVENTOPS_TEST_PGPASSWORD"]
        return PostgresStore(target, event_id="demo", password=password)
    return SQLiteStore(target)


async def main(target: str, start: int) -> None:
    async with open_target(target) as store:
        i = start
        while True:
            await store.add_samples(
                [Sample(ts=EPOCH + timedelta(milliseconds=i), device="kill", metric="n", value=i)]
            )
            print(f"S {i}", flush=True)
            if i % 3 == 0:
                rows = [
                    ApplyDeviceRow(device=f"mast-{d:02d}", result="applied", detail={"n": i})
                    for d in range(DEVICES_PER_APPLY)
                ]
                aid = await store.record_apply(
                    ApplyRow(started_at=EPOCH, actor="kill-test", summary={"n": i}), rows
                )
                print(f"A {aid}", flush=True)
            if i % 5 == 0:
                entry = await store.audit("kill-test", "write", f"n{i}", None, {"i": i})
                print(f"U {entry.id}", flush=True)
            i += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
