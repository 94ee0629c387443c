"""``eventops store migrate`` and ``eventops store copy`` (SQLite -> PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from eventops.cli import main
from eventops.store import PostgresStore, SQLiteStore
from eventops.store.audit import AuditKey
from eventops.store.copy import BATCH
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    DecisionRow,
    DeviceRow,
    PostRow,
    Sample,
)
from tests.helpers.pgcluster import PASSWORD_ENV
from tests.helpers.pgfixtures import PgDatabase

T0 = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
KEY = AuditKey.from_secret("k" * 32)
PW = f"env:{PASSWORD_ENV}"


async def _laptop(path: Path, samples: int, start: int = 0) -> None:
    """An event's SQLite store as a laptop leaves it (keyed audit log)."""
    async with SQLiteStore(path, audit_key=KEY) as s:
        await s.put_event("fest", "Fest", T0, T0 + timedelta(hours=8), "Europe/Berlin")
        await s.put_devices([DeviceRow(id="m1", kind="mast", driver="openwrt", address="http://m")])
        await s.add_samples(
            [
                Sample(ts=T0 + timedelta(seconds=i), device="m1", metric="clients", value=i / 2)
                for i in range(start, start + samples)
            ]
        )
        aid = await s.add_alert(
            AlertRow(key=f"k{start}", severity="info", subject="m1", summary="ü", raised_at=T0)
        )
        await s.update_alert(aid, acked_by="anna")
        await s.upsert_posts(
            [PostRow(id=f"x:{start}", source="x", author="a", text="hi", created_at=T0)]
        )
        await s.decide(
            DecisionRow(post_id=f"x:{start}", ts=T0, actor="p", action="approve"), "approved", True
        )
        await s.record_apply(
            ApplyRow(started_at=T0, actor="t", summary={"n": start}),
            [ApplyDeviceRow(device="m1", result="applied", detail={"q": '"\\'})],
        )
        for i in range(3):
            await s.audit("anna", "x", f"t{start + i}", {"a": "\n\x01€"}, None)


def _copy(db: PgDatabase, path: Path, *extra: str) -> int:
    return main(
        ["store", "copy", "--from", f"sqlite:{path}", "--to", db.url, "--password", PW, *extra]
    )


async def _both(path: Path, db: PgDatabase) -> tuple[SQLiteStore, PostgresStore]:
    return (
        SQLiteStore(path, audit_key=KEY),
        PostgresStore(db.url, event_id="fest", password=db.password, audit_key=KEY),
    )


async def _same(path: Path, db: PgDatabase) -> int:
    """The target holds what the source holds; returns the audit entries verified there."""
    src, dst = await _both(path, db)
    async with src, dst:
        assert await dst.list_devices() == await src.list_devices()
        assert await dst.list_alerts() == await src.list_alerts()
        far = T0 + timedelta(days=1)
        assert await dst.query_samples("m1", "clients", T0, far) == await src.query_samples(
            "m1", "clients", T0, far
        )
        assert await dst.list_posts() == await src.list_posts()
        assert await dst.list_decisions() == await src.list_decisions()
        assert await dst.list_applies() == await src.list_applies()
        (first,) = (await src.list_applies())[-1:]
        assert first.id is not None
        assert await dst.get_apply(first.id) == await src.get_apply(first.id)
        assert await dst.audit_entries() == await src.audit_entries()
        n = await dst.verify_audit()  # keyed: the MACs came along
        # ids handed out in the target after the copy follow the copied ones
        new = await dst.add_alert(
            AlertRow(key="new", severity="info", subject="m1", summary="n", raised_at=T0)
        )
        assert new > max(a.id or 0 for a in await src.list_alerts())
        entry = await dst.audit("bert", "after-copy", "x")
        assert entry.id == n + 1 and await dst.verify_audit() == n + 1
        return n


def test_copy_moves_an_event_with_a_verifying_audit_log(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fest.sqlite3"
    asyncio.run(_laptop(path, BATCH + 700))
    assert _copy(pg_db, path) == 0
    out, err = capsys.readouterr()
    assert f"copied event fest to {pg_db.url}" in out and "audit log verified (3 entries)" in out
    assert f"{BATCH + 700} samples" in out
    assert f"copying samples: {BATCH + 700}/{BATCH + 700} (100%)" in err  # progress
    assert asyncio.run(_same(path, pg_db)) == 3

    # again: the target holds the event now
    assert _copy(pg_db, path) == 4
    out, err = capsys.readouterr()
    assert "already holds" in err and "--append" in err and len(err.strip().splitlines()) == 1


def test_append_catches_up_and_a_diverged_log_is_refused(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fest.sqlite3"
    asyncio.run(_laptop(path, 50))
    assert _copy(pg_db, path) == 0
    assert capsys.readouterr().err == ""  # no progress lines for short tables
    asyncio.run(_laptop(path, 30, start=50))  # the laptop went on
    assert _copy(pg_db, path, "--append") == 0
    out = capsys.readouterr().out  # only what is new
    assert (
        ": 30 samples, 1 alerts, 1 posts, 1 decisions, 3 audit, 1 applies, 1 apply_devices;" in out
    )
    assert asyncio.run(_same(path, pg_db)) == 6
    # the target's log went on by itself (the check above appended "after-copy"): diverged
    asyncio.run(_laptop(path, 1, start=90))
    assert _copy(pg_db, path, "--append") == 4
    err = capsys.readouterr().err
    assert "not a beginning of the source's" in err and "nothing copied" in err


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--from", "/x.sqlite3"], 4, "give the source as sqlite:PATH"),
        (["--to", "postgresql://eventops:hunter22@/db"], 4, "carries a password"),
        (["--to", "mysql://u@h/db"], 4, "is not postgresql://"),
        (["--password", "hunter22"], 2, "env:NAME or file:PATH"),
        (["--password", "env:EVO_NO_SUCH_VAR"], 2, "environment variable is not set"),
        (["--from", "sqlite:/nonexistent/x.sqlite3"], 4, "no event store here"),
    ],
)
def test_copy_bad_input_is_one_line(
    pg_db: PgDatabase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    says: str,
) -> None:
    path = tmp_path / "fest.sqlite3"
    asyncio.run(_laptop(path, 1))
    argv = {"--from": f"sqlite:{path}", "--to": pg_db.url, "--password": PW}
    argv.update(dict(zip(args[::2], args[1::2], strict=True)))
    assert main(["store", "copy", *(x for kv in argv.items() for x in kv)]) == code
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert "hunter22" not in err and "Traceback" not in err


def _profile(tmp_path: Path, store: str) -> Path:
    p = tmp_path / "fest.toml"
    p.write_text(
        '[event]\nid = "fest"\nname = "Fest"\nstart = "2026-06-18T16:00:00+02:00"\n'
        'end = "2026-06-19T02:00:00+02:00"\ntimezone = "Europe/Berlin"\n' + store,
        encoding="utf-8",
    )
    return p


def test_migrate_either_store(
    pg_db: PgDatabase, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from eventops.store.migrations import LATEST
    from eventops.store.postgres_schema import PG_LATEST

    plain = _profile(tmp_path, "")
    assert main(["store", "migrate", str(plain)]) == 0
    assert capsys.readouterr().out == (
        f"store {data_dir / 'fest.sqlite3'}: schema version {LATEST}\n"
    )
    pg = _profile(tmp_path, f'[store]\nurl = "{pg_db.url}"\npassword = "{PW}"\n')
    assert main(["store", "migrate", str(pg)]) == 0
    assert (
        capsys.readouterr().out == f"store {pg_db.url} (event fest): schema version {PG_LATEST}\n"
    )


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ('url = "{url}"\npassword = "env:EVO_WRONG_PW"\n', "refused the user or password"),
        ('url = "{url_nodb}"\npassword = "{pw}"\n', "no such database"),
        ('url = "postgresql://eventops:hunter22@/x"\n', "must not carry the password"),
    ],
)
def test_bad_store_settings_are_one_line(
    pg_db: PgDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: str,
    says: str,
) -> None:
    monkeypatch.setenv("EVO_WRONG_PW", "hunter22")
    text = store.format(url=pg_db.url, url_nodb=pg_db.url.replace(pg_db.name, "nodb"), pw=PW)
    profile = _profile(tmp_path, "[store]\n" + text)
    for command in (["store", "migrate"], ["serve"], ["applies"]):
        assert main([*command, str(profile)]) != 0
        err = capsys.readouterr().err
        assert says in err and "hunter22" not in err and pg_db.password not in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_audit_verify_show_and_checkpoint_read_the_profiles_database(
    pg_db: PgDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "fest.sqlite3"
    asyncio.run(_laptop(path, 1))
    assert _copy(pg_db, path) == 0
    monkeypatch.setenv("EVO_AUDIT_KEY", "k" * 32)
    profile = _profile(
        tmp_path,
        f'[store]\nurl = "{pg_db.url}"\npassword = "{PW}"\n[audit]\nkey = "env:EVO_AUDIT_KEY"\n',
    )
    capsys.readouterr()
    assert main(["audit", "verify", str(profile)]) == 0
    out = capsys.readouterr().out
    assert (
        f"ok {pg_db.url} (event fest): audit chain of 3 entries verifies, every entry keyed" in out
    )
    assert main(["audit", "show", str(profile), "--json"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["target"] for x in shown] == ["t0", "t1", "t2"]
    cp = tmp_path / "cp.json"
    assert main(["audit", "checkpoint", str(profile), "--out", str(cp)]) == 0
    assert main(["audit", "verify", str(profile), "--checkpoint", str(cp)]) == 0
    capsys.readouterr()

    async def tamper() -> None:
        conn = await asyncpg.connect(pg_db.dsn)
        try:  # the owner switches the guard off and edits an entry
            await conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")
            await conn.execute("UPDATE audit SET actor='mallory' WHERE event_id='fest' AND id=2")
        finally:
            await conn.close()

    asyncio.run(tamper())
    assert main(["audit", "verify", str(profile), "--checkpoint", str(cp)]) == 5
    err = capsys.readouterr().err
    assert "audit entry 2 was altered" in err and len(err.strip().splitlines()) == 1
    # another event in the same database has no store there yet: its log is empty, not broken
    other = _profile(tmp_path, f'[store]\nurl = "{pg_db.url}"\npassword = "{PW}"\n')
    other.write_text(other.read_text(encoding="utf-8").replace('"fest"', '"other"'), "utf-8")
    assert main(["audit", "verify", str(other)]) == 0
    assert "audit chain of 0 entries verifies" in capsys.readouterr().out


def test_copy_of_a_store_without_its_event_row_needs_the_event_named(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store only provisioned from the CLI has rows but no event row (the engine writes it)."""
    path = tmp_path / "apply-only.sqlite3"

    async def provisioned() -> None:
        async with SQLiteStore(path) as s:
            await s.record_apply(ApplyRow(started_at=T0, actor="t"), [])

    asyncio.run(provisioned())
    assert _copy(pg_db, path) == 4
    assert "holds 0 events (none); name one with --event" in capsys.readouterr().err
    assert _copy(pg_db, path, "--event", "fest") == 0
    assert "copied event fest" in capsys.readouterr().out

    async def applies() -> int:
        async with PostgresStore(pg_db.url, event_id="fest", password=pg_db.password) as s:
            return len(await s.list_applies())

    assert asyncio.run(applies()) == 1
