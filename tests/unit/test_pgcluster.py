"""The test PostgreSQL cluster: socket only, passwords checked, cheap fresh databases."""

from __future__ import annotations

import asyncpg
import pytest

from tests.helpers.pgcluster import PgCluster
from tests.helpers.pgfixtures import PgDatabase


async def test_cluster_listens_on_its_socket_only(pg_db: PgDatabase) -> None:
    conn = await asyncpg.connect(pg_db.url, password=pg_db.password)
    try:
        assert await conn.fetchval("SHOW listen_addresses") == ""
        assert await conn.fetchval("SELECT current_database()") == pg_db.name
        assert await conn.fetchval("SELECT current_user") == "eventops"
        # a fresh database is empty
        n = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
        )
        assert n == 0
        await conn.execute("CREATE TABLE t (x int)")
    finally:
        await conn.close()


async def test_wrong_password_is_refused(pg_db: PgDatabase) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(pg_db.url, password="not-the-password")


async def test_each_test_database_is_separate(pg_cluster: PgCluster) -> None:
    a, b = pg_cluster.create_database(), pg_cluster.create_database()
    try:
        ca = await asyncpg.connect(pg_cluster.dsn(a))
        cb = await asyncpg.connect(pg_cluster.dsn(b))
        try:
            await ca.execute("CREATE TABLE only_in_a (x int)")
            assert await cb.fetchval("SELECT to_regclass('only_in_a') IS NULL")
        finally:
            await ca.close()
            await cb.close()
    finally:
        pg_cluster.drop_database(a)
        pg_cluster.drop_database(b)
    assert (
        pg_cluster.psql(
            f"SELECT count(*) FROM pg_database WHERE datname='{a}'", db="postgres"
        ).strip()
        == "0"
    )
