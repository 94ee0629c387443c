"""The CLI's exit codes and messages, run as a user runs it (a subprocess)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "profiles" / "demo.toml"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "eventops", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        timeout=60,
    )


def test_profile_check_ok() -> None:
    r = run("profile", "check", str(DEMO))
    assert r.returncode == 0, r.stderr
    assert "3 masts" in r.stdout and "3 links" in r.stdout and "4 users" in r.stdout


def test_profile_check_hand_broken(tmp_path: Path) -> None:
    text = DEMO.read_text()
    text = text.replace('uplink = "fibre-stage"', 'uplink = "fibre-nowhere"', 1)
    text = text.replace("channel = 11", "channel = 14")
    text = text.replace("channel = 44\nwidth = 40", "channel = 52\nwidth = 20")
    text = text.replace(
        'management = { url = "http://127.0.0.1:18003", password = "file:demo-secrets/device-password" }',
        'management = { url = "http://127.0.0.1:18003", password = "Geheim123" }',
    )
    bad = tmp_path / "broken.toml"
    bad.write_text(text)
    r = run("profile", "check", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith(f"eventops: error: {bad}:") for line in lines)
    joined = "\n".join(lines)
    assert "masts[0].uplink: uplink link 'fibre-nowhere' does not exist" in joined
    assert "masts[1].radios[0].channel: channel 14" in joined
    assert "masts[1].radios[1].channel: channel 52 is indoor-only" in joined
    assert "masts[2].management.password: a literal secret is not allowed" in joined
    assert "Geheim123" not in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_profile_check_missing_file() -> None:
    r = run("profile", "check", "/nonexistent/event.toml")
    assert r.returncode == 2
    assert r.stderr.strip() == "eventops: error: /nonexistent/event.toml: no such file"


def test_profile_check_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text('[event]\nid = "x\n')
    r = run("profile", "check", str(bad))
    assert r.returncode == 2 and f"{bad}:2: (top level): TOML syntax error" in r.stderr


def test_profile_schema_is_json() -> None:
    r = run("profile", "schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["title"] == "Profile"


def test_usage_error_exit_code() -> None:
    r = run("profile")
    assert r.returncode == 2 and "usage:" in r.stderr


def test_token_new_prints_matching_hash() -> None:
    r = run("token", "new", "presse", "--profile", str(DEMO))
    assert r.returncode == 0
    lines = [line.strip() for line in r.stdout.splitlines()]
    token = next(x for x in lines if x.startswith("evo_"))
    line = next(x for x in lines if x.startswith("token_sha256"))
    assert line == f'token_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"'


def test_token_new_unknown_user() -> None:
    r = run("token", "new", "nobody", "--profile", str(DEMO))
    assert r.returncode == 2 and "no user 'nobody'" in r.stderr


def test_audit_verify(tmp_path: Path) -> None:
    import asyncio

    from eventops.profile import load_profile
    from eventops.store import SQLiteStore, audit_key

    db = tmp_path / "a.sqlite3"
    r = run("audit", "verify", str(DEMO), "--db", str(db))
    assert r.returncode == 4 and "no event store here yet" in r.stderr

    async def fill() -> None:
        # the demo profile names an audit key: the engine keys every entry with it
        async with SQLiteStore(db, audit_key=audit_key(load_profile(DEMO))) as s:
            await s.audit("presse", "approve", "x:1")
            await s.audit("technik", "apply", "mast-01")

    asyncio.run(fill())
    r = run("audit", "verify", str(DEMO), "--db", str(db))
    assert r.returncode == 0 and "2 entries" in r.stdout
    r = run("audit", "show", str(DEMO), "--db", str(db), "--json")
    assert [json.loads(x)["actor"] for x in r.stdout.splitlines()] == ["presse", "technik"]

    import sqlite3

    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("UPDATE audit SET target='x:2' WHERE id=1")
    con.commit()
    con.close()
    r = run("audit", "verify", str(DEMO), "--db", str(db))
    assert r.returncode == 5 and "audit entry 1 was altered" in r.stderr


def test_default_store_location(tmp_path: Path) -> None:
    r = run("audit", "verify", str(DEMO), env={"EVENTOPS_DATA_DIR": str(tmp_path)})
    assert r.returncode == 4 and str(tmp_path / "demo.sqlite3") in r.stderr


def test_cli_audit_entries_are_keyed_and_export_carries_a_checkpoint(tmp_path: Path) -> None:
    """The CLI opens stores with the profile's audit key; export and checkpoint vouch for them."""
    db = tmp_path / "k.sqlite3"
    r = run("wall", "forget", str(DEMO), "x:alice", "--user", "presse", "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = run("wall", "forget", str(DEMO), "x:bob", "--user", "presse", "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = run("audit", "verify", str(DEMO), "--db", str(db))
    assert r.returncode == 0 and "2 entries verifies, every entry keyed (ed25519:" in r.stdout

    export = tmp_path / "export.json"
    r = run("export", str(DEMO), "--db", str(db), "--out", str(export))
    assert r.returncode == 0, r.stderr
    cp = json.loads(export.read_text())["audit_checkpoint"]
    assert cp["event"] == "demo" and cp["seq"] == 2
    r = run("audit", "checkpoint", str(DEMO), "--db", str(db), "--out", str(tmp_path / "cp.json"))
    assert r.returncode == 0 and "checkpoint of entry 2" in r.stdout
    for carrier in (export, tmp_path / "cp.json"):
        r = run("audit", "verify", str(DEMO), "--db", str(db), "--checkpoint", str(carrier))
        assert r.returncode == 0 and "holds the 2 entries of the checkpoint" in r.stdout, r.stderr


def test_audit_key_reference_that_cannot_be_read(tmp_path: Path) -> None:
    text = DEMO.read_text().replace(
        'key = "file:demo-secrets/audit-key"', 'key = "env:EVO_TEST_NO_SUCH_AUDIT_KEY"'
    )
    profile = tmp_path / "demo.toml"
    profile.write_text(text)
    (tmp_path / "demo-secrets").mkdir()
    for name in ("device-password", "audit-key"):
        (tmp_path / "demo-secrets" / name).write_text("x" * 32)
    db = tmp_path / "k.sqlite3"
    db.touch()
    r = run("audit", "verify", str(profile), "--db", str(db))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "secret env:EVO_TEST_NO_SUCH_AUDIT_KEY: environment variable is not set" in r.stderr
    r = run(
        "audit",
        "verify",
        str(profile),
        "--db",
        str(db),
        env={"EVO_TEST_NO_SUCH_AUDIT_KEY": "short"},
    )
    assert r.returncode == 2 and "at least 16 bytes" in r.stderr
