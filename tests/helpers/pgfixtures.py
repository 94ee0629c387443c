"""Pytest fixtures for a real PostgreSQL server (a plugin loaded by tests/conftest.py).

- ``pg_cluster`` (session): one :class:`~tests.helpers.pgcluster.PgCluster` for the whole
  run, started on first use and removed at the end; its password is in
  ``$EVENTOPS_TEST_PGPASSWORD`` (:data:`~tests.helpers.pgcluster.PASSWORD_ENV`) meanwhile.
  Skips when PostgreSQL is not installed — which fails under ``CI=true``, where
  ``.ci/run`` installs it.
- ``pg_db`` (function): a fresh empty database in that cluster (a :class:`PgDatabase`),
  dropped after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

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
