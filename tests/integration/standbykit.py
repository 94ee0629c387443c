"""Two ``eventops serve`` children of one event under one lease: an active and a standby.

The demo profile on free ports with one-second poll intervals; the store and the lease
in the pg_db fixture's database (``[store] url``, the password as a reference to the
fixture's variable), or one SQLite file shared by both children with the lease by
``--lease`` (the password in ``PGPASSWORD`` of the children, never on their command line).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eventops_hardware.ports import free_ports

from eventops.api.client import EngineClient
from eventops.profile import load_profile
from eventops.store import Store, open_store
from tests.helpers.pgfixtures import PgDatabase
from tests.integration.enginekit import REPO, TECH, engine_profile

INTERVAL_S = 1.0
"""The poll interval of every device in these tests."""
LEASE_TTL_S = 3.0
"""The lease's ttl in these tests: longer than the default (3/4 of the poll interval) so
that a loaded CI box (2 shared cores) never misses a renewal; the take-over is timed by
benchmarks/failover.py with the default."""


@dataclass
class Child:
    """One serve process and what it printed."""

    proc: asyncio.subprocess.Process
    url: str
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def said(self, words: str, limit_s: float = 60.0) -> str:
        """Wait until a line with ``words`` was printed (a wait, not a timed assertion)."""
        async with asyncio.timeout(limit_s):
            while True:
                for line in self.lines:
                    if words in line:
                        return line
                if self.proc.returncode is not None and self._reader is not None:
                    await self._reader
                    found = [ln for ln in self.lines if words in ln]
                    assert found, f"exited {self.proc.returncode} without {words!r}: {self.lines}"
                    return found[0]
                await asyncio.sleep(0.02)

    def client(self) -> EngineClient:
        return EngineClient(self.url, TECH, timeout_s=30)


@dataclass
class Pair:
    profile: Path
    db: Path
    lease_url: str
    password: str
    urls: tuple[str, str]
    backend: str
    """``postgresql``: the store in the lease's database ([store] url, the lease by default);
    ``sqlite``: one SQLite file shared by both children, the lease by ``--lease``."""

    def store(self) -> Store:
        """The event's store, as the children open it."""
        return open_store(self.db, load_profile(self.profile))

    def argv(self, url: str, ttl_s: float | None = None) -> list[str]:
        listen = url.removeprefix("http://")
        ttl = ["--lease-ttl", str(ttl_s if ttl_s is not None else LEASE_TTL_S)]
        return [
            sys.executable,
            "-m",
            "eventops",
            "serve",
            str(self.profile),
            "--db",
            str(self.db),
            "--listen",
            listen,
            *(["--lease", self.lease_url] if self.backend == "sqlite" else []),
            *ttl,
        ]

    @asynccontextmanager
    async def engine(self, which: int, *, ttl_s: float | None = None) -> AsyncIterator[Child]:
        """Serve on ``urls[which]``; yields once it says it serves; SIGKILLed at the end."""
        url = self.urls[which]
        env = {**os.environ, "PGPASSWORD": self.password}
        proc = await asyncio.create_subprocess_exec(
            *self.argv(url, ttl_s),
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        child = Child(proc, url)

        async def read() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                child.lines.append(raw.decode(errors="replace").rstrip())

        child._reader = asyncio.create_task(read())
        try:
            await child.said("serving")
            yield child
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            await asyncio.gather(child._reader, return_exceptions=True)


def standby_pair(tmp_path: Path, pg_db: PgDatabase, backend: str = "postgresql") -> Pair:
    """The demo profile polled every second, two API ports, one store, one lease."""
    path, url = engine_profile(tmp_path)
    (second,) = free_ports(1)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[polling]\nmast_interval_s = {INTERVAL_S}\nfibre_interval_s = {INTERVAL_S}\n")
        if backend == "postgresql":
            fh.write(f'\n[store]\nurl = "{pg_db.url}"\npassword = "{pg_db.password_ref}"\n')
    return Pair(
        backend=backend,
        profile=path,
        db=tmp_path / "event.sqlite3",
        lease_url=pg_db.url,
        password=pg_db.password,
        urls=(url, f"http://127.0.0.1:{second}"),
    )
