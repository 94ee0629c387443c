"""Pytest fixtures for a real PostgreSQL server (a plugin loaded by tests/conftest.py).

- ``pg_cluster`` (session): one :class:`~tests.helpers.pgcluster.PgCluster` for the whole
  run, started on first use and removed at the end; its password is in
  ``$EVENTOPS_TEST_PGPASSWORD`` (:data:`~tests.helpers.pgcluster.PASSWORD_ENV`) meanwhile.
  Skips when PostgreSQL is not installed — which fails under ``CI=true``, where
  ``.ci/run`` installs it.
- ``pg_db`` (function): a fresh empty database in that cluster (a :class:`PgDatabase`),
  dropped after the test.
- ``make_store`` (function, parametrised over ``sqlite`` and ``postgresql``): a
  :class:`StoreMaker` for tests of the store contract, which then run on both backends.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eventops.store.postgres import PostgresStore
from eventops.store.sqlite import SQLiteStore
from tests.helpers.pgcluster import PASSWORD_ENV, PgCluster, find_bin_dir


@dataclass(frozen=True)
class PgDatabase:
    cluster: PgCluster
    name: str

    @property
    def url(self) -> str:
        """The database's ``postgresql://`` URL without the password."""
        return self.cluster.url(self.name)

    @property
    def dsn(self) -> str:
        """The URL with the password in it."""
        return self.cluster.dsn(self.name)

    @property
    def password(self) -> str:
        return self.cluster.password

    password_ref = f"env:{PASSWORD_ENV}"
    """The password as a secret reference (valid while the cluster runs)."""


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server not installed (Debian: apt-get install postgresql)")
    cluster = PgCluster(bin_dir).start()
    old = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = cluster.password
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = old
        cluster.stop()


@pytest.fixture
def pg_db(pg_cluster: PgCluster) -> Iterator[PgDatabase]:
    name = pg_cluster.create_database()
    try:
        yield PgDatabase(pg_cluster, name)
    finally:
        pg_cluster.drop_database(name)


BACKENDS = ("sqlite", "postgresql")


@dataclass
class StoreMaker:
    """Makes stores of one backend for a test: ``make("e")`` twice opens the same data.

    SQLite: one file per name in the test's folder. PostgreSQL: one event per name in
    the test's own database (so two names are two events sharing a database).
    """

    backend: str
    tmp_path: Path
    db: PgDatabase | None = None

    def __call__(self, name: str = "demo", **kw: Any) -> SQLiteStore | PostgresStore:
        if self.backend == "sqlite":
            return SQLiteStore(self.tmp_path / f"{name}.sqlite3", **kw)
        assert self.db is not None
        return PostgresStore(self.db.url, event_id=name, password=self.db.password, **kw)

    @property
    def pg(self) -> bool:
        return self.backend == "postgresql"

    @property
    def target(self) -> str:
        """What a child process opens (tests/helpers/store_child.py ``open_target``): the
        SQLite file of ``make("demo")`` or the database URL (event ``demo``)."""
        return self.db.url if self.db is not None else str(self.tmp_path / "demo.sqlite3")

    async def fetch(
        self, sqlite: str, postgresql: str, name: str = "demo"
    ) -> list[tuple[Any, ...]]:
        """Rows of a raw query, past the store (for checks independent of the code under test)."""
        if self.db is None:
            con = sqlite3.connect(self.tmp_path / f"{name}.sqlite3")
            try:
                return list(con.execute(sqlite).fetchall())
            finally:
                con.close()
        conn = await asyncpg.connect(self.db.dsn)
        try:
            return [tuple(r.values()) for r in await conn.fetch(postgresql, name)]
        finally:
            await conn.close()

    def sql(self, sqlite: str, postgresql: str) -> str:
        """The backend's spelling of a raw statement (PostgreSQL rows carry ``event_id``)."""
        return postgresql if self.pg else sqlite


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """A :class:`StoreMaker` for each backend: the store contract runs on both."""
    if request.param == "postgresql":
        return StoreMaker("postgresql", tmp_path, request.getfixturevalue("pg_db"))
    return StoreMaker("sqlite", tmp_path)
