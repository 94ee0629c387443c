"""Tampering with the audit log, as someone who holds the store file but not the key would.

Each case edits the SQLite file directly (dropping the append-only
triggers first), then runs ``eventops audit verify PROFILE --checkpoint C``
with C a checkpoint taken before the tampering, carried by a checkpoint
file, a handover report or an export. Every case must be caught with its own
exit code and one line on stderr, and verifying must leave the store's
bytes, and the directory around it, exactly as they were.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from eventops.cli import main
from eventops.profile import load_profile
from eventops.store import SQLiteStore, audit_key, write_checkpoint
from eventops.store.audit import GENESIS, audit_hash, embed_checkpoint, verify_store

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "profiles" / "demo.toml"
ENTRIES = 30

Tamper = Callable[[sqlite3.Connection], object]


def _build(db: Path, out: Path) -> dict[str, Path]:
    """A keyed store of ENTRIES entries and three carriers of one checkpoint of its head."""
    profile = load_profile(DEMO)
    key = audit_key(profile)
    assert key is not None

    async def fill() -> dict[str, object]:
        async with SQLiteStore(db, audit_key=key) as s:
            for i in range(ENTRIES):
                await s.audit("presse", "wall.approve", f"x:{i}", after={"n": i, "t": "ü\u202e"})
            cp = await write_checkpoint(s, key, profile.event.id)
            from eventops.monitor.history import export_event

            await export_event(s, out / "export.json", event={"id": "demo"}, audit_key=key)
            return cp

    cp = asyncio.run(fill())
    (out / "checkpoint.json").write_text(json.dumps(cp), encoding="utf-8")
    page = "<!doctype html><html><body><h1>Handover &lt;fibre&gt;</h1></body></html>"
    (out / "report.html").write_text(embed_checkpoint(page, cp), encoding="utf-8")
    return {
        "file": out / "checkpoint.json",
        "report": out / "report.html",
        "export": out / "export.json",
    }


@pytest.fixture
def rig(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    carriers = tmp_path / "carriers"
    carriers.mkdir()
    db = store_dir / "demo.sqlite3"
    return db, _build(db, carriers)


def _tamper(db: Path, fn: Tamper) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("DROP TRIGGER IF EXISTS audit_no_update")
        con.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        fn(con)
    finally:
        con.close()


def _state(db: Path) -> tuple[str, list[str]]:
    digest = hashlib.sha256(db.read_bytes()).hexdigest() if db.exists() else "absent"
    return digest, sorted(p.name for p in db.parent.iterdir())


def _verify(
    db: Path, carrier: Path | None, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    before = _state(db)
    args = ["audit", "verify", str(DEMO), "--db", str(db)]
    if carrier is not None:
        args += ["--checkpoint", str(carrier)]
    code = main(args)
    out, err = capsys.readouterr()
    assert _state(db) == before, "verify changed the store or its directory"
    assert len(err.strip().splitlines()) <= 1, err
    assert "Traceback" not in err
    return code, out, err


def _forged_append(con: sqlite3.Connection) -> None:
    """A new row whose plain hash is right; its MAC cannot be, without the key."""
    last_id, last_hash, last_mac = con.execute(
        "SELECT id, hash, mac FROM audit ORDER BY id DESC LIMIT 1"
    ).fetchone()
    n, ts = last_id + 1, "2026-06-18T21:00:00.000000+00:00"
    digest = audit_hash(last_hash, n, ts, "technik", "alert.silence", "all", None, None)
    forged_mac = hashlib.sha256(f"{last_mac}{digest}".encode()).hexdigest()
    con.execute(
        "INSERT INTO audit (id, ts, actor, action, target, before, after, prev_hash, hash, mac) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        (n, ts, "technik", "alert.silence", "all", None, None, last_hash, digest, forged_mac),
    )


def _rewrite(con: sqlite3.Connection) -> None:
    """Edit entry 3 and recompute every plain hash from there on (MACs left as they were)."""
    rows = con.execute(
        "SELECT id, ts, actor, action, target, before, after FROM audit ORDER BY id"
    ).fetchall()
    prev = GENESIS
    for r in rows:
        actor = "mallory" if r[0] == 3 else r[2]
        digest = audit_hash(prev, r[0], r[1], actor, r[3], r[4], r[5], r[6])
        con.execute(
            "UPDATE audit SET actor=?, prev_hash=?, hash=? WHERE id=?", (actor, prev, digest, r[0])
        )
        prev = digest


CASES: dict[str, tuple[Tamper, int, str]] = {
    "delete-last": (
        lambda c: c.execute("DELETE FROM audit WHERE id=(SELECT MAX(id) FROM audit)"),
        5,
        "1 entries were removed",
    ),
    "delete-last-20": (
        lambda c: c.execute(f"DELETE FROM audit WHERE id > {ENTRIES - 20}"),
        5,
        "20 entries were removed",
    ),
    "empty-table": (lambda c: c.execute("DELETE FROM audit"), 5, "ends at entry 0"),
    "forged-append": (_forged_append, 5, f"entry {ENTRIES + 1} fails its MAC"),
    "rewrite-recomputed": (_rewrite, 5, "entry 3 fails its MAC"),
    "drop-table": (lambda c: c.execute("DROP TABLE audit"), 11, "audit table is missing"),
}


def test_untampered_store_verifies_against_each_carrier(
    rig: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, carriers = rig
    for name, carrier in carriers.items():
        code, out, err = _verify(db, carrier, capsys)
        assert code == 0, (name, err)
        assert f"{ENTRIES} entries verifies" in out and f"holds the {ENTRIES} entries" in out


@pytest.mark.parametrize("carrier", ["file", "report", "export"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_tamper_is_caught(
    rig: tuple[Path, dict[str, Path]],
    case: str,
    carrier: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, carriers = rig
    tamper, exit_code, message = CASES[case]
    _tamper(db, tamper)
    code, out, err = _verify(db, carriers[carrier], capsys)
    assert (code, out) == (exit_code, ""), err
    assert message in err
    if "checkpoint of" in err:  # its time in the event's zone, the zone shown (not UTC Z)
        assert re.search(r"checkpoint of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", err), err


def test_truncation_is_invisible_without_a_checkpoint_but_not_with_one(
    rig: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """What the chain alone cannot show, and why checkpoints must leave the machine."""
    db, carriers = rig
    _tamper(db, CASES["delete-last-20"][0])
    assert _verify(db, None, capsys)[0] == 0
    assert _verify(db, carriers["report"], capsys)[0] == 5


def test_forged_append_and_rewrite_are_caught_without_a_checkpoint(
    rig: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = rig
    _tamper(db, _rewrite)
    code, _, err = _verify(db, None, capsys)
    assert code == 5 and "entry 3 fails its MAC" in err


def test_stripping_every_mac_is_caught(
    rig: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A rewrite that also drops the keyed chain does not fall back to the plain one."""
    db, _ = rig

    def strip(c: sqlite3.Connection) -> None:
        _rewrite(c)
        c.execute("UPDATE audit SET mac=NULL")

    _tamper(db, strip)
    code, _, err = _verify(db, None, capsys)
    assert code == 5 and "entry 1 carries no MAC" in err


def test_empty_file_is_one_line_and_stays_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.sqlite3"
    db.touch()
    code, out, err = _verify(db, None, capsys)
    assert (code, out) == (10, "") and "empty file, not an event store" in err
    assert db.stat().st_size == 0


def test_sqlite_without_schema_is_not_an_event_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.sqlite3"
    sqlite3.connect(db).execute("PRAGMA user_version=0").connection.close()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE unrelated (x)")
    con.execute("DROP TABLE unrelated")
    con.commit()
    con.close()
    code, _, err = _verify(db, None, capsys)
    assert code == 10 and "without an event store's schema" in err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.sqlite3"
    code, _, err = _verify(db, None, capsys)
    assert code == 4 and "no event store here yet" in err
    assert not db.exists()


def test_not_sqlite_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.sqlite3"
    db.write_bytes(b"this is not a database, just some text that is long enough" * 100)
    code, _, err = _verify(db, None, capsys)
    assert code == 4 and "not an event store" in err


def test_checkpoint_from_another_key_or_event_is_refused(
    rig: tuple[Path, dict[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from eventops.store.audit import AuditKey, sign_checkpoint

    db, carriers = rig
    cp = json.loads(carriers["file"].read_text())
    other = sign_checkpoint(AuditKey.from_secret("x" * 32), "demo", cp["seq"], cp["head"])
    bad = tmp_path / "other-key.json"
    bad.write_text(json.dumps(other))
    code, _, err = _verify(db, bad, capsys)
    assert code == 12 and "not by this event's audit key" in err

    key = audit_key(load_profile(DEMO))
    assert key is not None
    wrong_event = sign_checkpoint(key, "stadion", cp["seq"], cp["head"])
    bad.write_text(json.dumps(wrong_event))
    code, _, err = _verify(db, bad, capsys)
    assert code == 12 and "for event 'stadion'" in err

    forged = {**cp, "seq": cp["seq"] - 5}  # an older head, signature kept
    bad.write_text(json.dumps(forged))
    code, _, err = _verify(db, bad, capsys)
    assert code == 12 and "signature does not verify" in err

    for text in ("", "{", "<html><body>no checkpoint</body></html>", "[" * 100_000):
        bad.write_text(text)
        code, _, err = _verify(db, bad, capsys)
        assert code == 12, (text[:20], err)


def test_verify_does_not_create_side_files_or_migrate(
    rig: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Read-only even on an old store: no schema upgrade, no -wal/-shm left behind."""
    db, carriers = rig
    con = sqlite3.connect(db)
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.close()
    assert _verify(db, carriers["export"], capsys)[0] == 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert con.execute("PRAGMA user_version").fetchone()[0] == version
    con.close()


def test_verify_store_reads_while_the_store_is_open(tmp_path: Path) -> None:
    """A running engine holds the store open (WAL present): verify still reads, read-only."""
    key = audit_key(load_profile(DEMO))
    db = tmp_path / "live.sqlite3"

    async def run() -> None:
        async with SQLiteStore(db, audit_key=key) as s:
            for i in range(5):
                await s.audit("technik", "x", str(i))
            assert (tmp_path / "live.sqlite3-wal").exists()
            result = await asyncio.to_thread(verify_store, db, key, None)
            assert result.entries == 5 and result.keyed == 5
            await s.audit("technik", "x", "after")
            assert await s.verify_audit() == 6

    asyncio.run(run())


def test_show_is_read_only_too(
    rig: tuple[Path, dict[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = rig
    before = _state(db)
    assert main(["audit", "show", str(DEMO), "--db", str(db), "--json", "--since", "28"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["target"] for x in out] == ["x:28", "x:29"]
    assert json.loads(out[0])["after"] == {"n": 28, "t": "ü\u202e"}
    assert _state(db) == before
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    assert main(["audit", "show", str(DEMO), "--db", str(empty)]) == 10
    assert empty.stat().st_size == 0


HOSTILE_VALUES: list[object] = [None, b"\xff\x00", 2**63 - 1, -1, 1.5, "", "\u202e", "x" * 64]
COLUMNS = ["id", "ts", "actor", "action", "target", "before", "after", "prev_hash", "hash", "mac"]


def test_any_value_in_any_column_is_caught_in_one_line(
    rig: tuple[Path, dict[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row edited to any type SQLite holds (a blob MAC, a non-ASCII MAC, a float id ...)
    is tampering (exit 5) or an unreadable table (exit 4), in one line, never a traceback."""
    db, carriers = rig
    work = tmp_path / "work" / "demo.sqlite3"
    work.parent.mkdir()
    seen = set()
    for column in COLUMNS:
        for value in HOSTILE_VALUES:
            shutil.copy(db, work)

            changed: list[bool] = []

            def edit(
                c: sqlite3.Connection,
                column: str = column,
                value: object = value,
                changed: list[bool] = changed,
            ) -> None:
                (old,) = c.execute(f"SELECT {column} FROM audit WHERE id=5").fetchone()
                c.execute(f"UPDATE audit SET {column}=? WHERE id=5", (value,))
                changed.append(old != value)

            try:
                _tamper(work, edit)
            except sqlite3.IntegrityError:
                continue  # the id column refuses a duplicate or a non-integer: nothing to verify
            if not changed[0]:
                continue  # the row held this value already (``before`` is NULL here)
            code, out, err = _verify(work, carriers["report"], capsys)
            assert code in (4, 5) and out == "", (column, value, code, err)
            assert err.startswith("eventops: error: ") and str(work) in err, (column, value, err)
            seen.add(column)
    assert seen == set(COLUMNS)


def test_verify_after_a_crash_leaves_the_wal_and_creates_no_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An engine that died leaves the store and its -wal (committed entries not yet in the
    main file) and no -shm: verify reads every entry and creates no file next to them."""
    key = audit_key(load_profile(DEMO))
    live, crashed = tmp_path / "live" / "demo.sqlite3", tmp_path / "crashed" / "demo.sqlite3"
    live.parent.mkdir()
    crashed.parent.mkdir()

    async def run() -> None:
        async with SQLiteStore(live, audit_key=key) as s:
            for i in range(7):
                await s.audit("technik", "x", str(i))
            # the files as a power cut leaves them: store and WAL, no index
            shutil.copyfile(live, crashed)
            shutil.copyfile(f"{live}-wal", f"{crashed}-wal")

    asyncio.run(run())
    assert sorted(p.name for p in crashed.parent.iterdir()) == ["demo.sqlite3", "demo.sqlite3-wal"]
    code, out, err = _verify(crashed, None, capsys)  # _verify: bytes and listing unchanged
    assert code == 0 and "audit chain of 7 entries verifies" in out, err
    assert main(["audit", "show", str(DEMO), "--db", str(crashed), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert sorted(p.name for p in crashed.parent.iterdir()) == ["demo.sqlite3", "demo.sqlite3-wal"]
