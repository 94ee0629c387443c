"""``eventops wall ...`` end to end on the demo profile's replay feed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eventops.cli import main
from eventops.store.migrations import LATEST, MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "profiles" / "demo.toml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_queue_decide_undo(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "wall", "ingest", DEMO, "--once")
    m = re.fullmatch(
        r"ok demo: (\d+) post\(s\) now (\d+) hidden, (\d+) pending, (\d+) rejected "
        r"\(1 deleted, 1 edited at the source\)\n",
        out,
    )
    assert code == 0 and m, out
    total, hidden, pending, rejected = (int(g) for g in m.groups())
    code, out, _ = run(capsys, "wall", "queue", DEMO, "--state", "all", "--json", "--limit", "100")
    rows = [json.loads(line) for line in out.splitlines()]
    by_id = {r["id"]: r for r in rows}
    # The printed counts are what the queue lists (a queued post edited or deleted later
    # at the source counts once, as hidden).
    states = [r["state"] for r in rows]
    assert (len(rows), states.count("hidden"), states.count("pending")) == (total, hidden, pending)
    assert states.count("rejected") == rejected and hidden == 2
    code, out, _ = run(capsys, "wall", "queue", DEMO)
    assert out.splitlines()[-1] == f"{pending} post(s)"
    assert by_id["replay:d4"]["state"] == "rejected"  # H.U.R.E.N.S.Ö.H.N.E
    assert by_id["replay:d4"]["last_decision"]["actor"] == "rule:blocked_word"
    assert by_id["replay:d8"]["last_decision"]["reason"] == "blocked word 'spamcoin'"
    assert by_id["replay:d5"]["state"] == "hidden"  # edited into d21
    assert by_id["replay:d22"]["state"] == "hidden"  # deleted at the source
    assert "\u202e" not in by_id["replay:d18"]["text"]
    assert all("<" not in r["text"] for r in rows if r["id"] != "replay:d23")
    assert by_id["replay:d23"]["data"]["links"] == [
        {"url": "https://phish.example/login", "domain": "phish.example"}
    ]
    code, out, _ = run(
        capsys, "wall", "decide", DEMO, "replay:d1", "approve", "--user", "maria", "--reason", "ok"
    )
    assert code == 0 and "(now approved)" in out
    did = int(out.split()[2].rstrip(":"))
    code, out, _ = run(capsys, "wall", "undo", DEMO, str(did), "--user", "maria")
    assert code == 0
    code, out, _ = run(capsys, "wall", "queue", DEMO)
    assert "replay:d1 " in out
    code, out, _ = run(capsys, "audit", "show", DEMO)
    assert "wall.approve" in out and "wall.undo" in out
    code, out, _ = run(capsys, "wall", "decisions", DEMO, "replay:d1")
    # id, date, time and zone of the event (Europe/Berlin), post, actor, action
    assert {line.split()[3] for line in out.splitlines()} <= {"CET", "CEST"}
    assert [line.split()[6] for line in out.splitlines()] == ["queue", "approve", "undo"]


def test_undo_steps_back_and_an_undo_is_undoable(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: after undoing #b, #a could not be undone and the undo itself was refused."""
    run(capsys, "wall", "ingest", DEMO, "--once")

    def did(*argv: str) -> tuple[int, str]:
        code, out, err = run(capsys, "wall", *argv, "--user", "maria")
        return code, (out.split()[2].rstrip(":") if code == 0 else err)

    _, a = did("decide", DEMO, "replay:d2", "approve")
    _, b = did("decide", DEMO, "replay:d2", "pin")
    code, c = did("undo", DEMO, b)
    assert code == 0
    code, undo_a = did("undo", DEMO, a)
    assert code == 0
    code, err = did("undo", DEMO, c)
    assert code == 8 and f"decision {c}: post replay:d2 was decided on since" in err
    assert "it is now pending" in err
    code, _ = did("undo", DEMO, undo_a)
    assert code == 0
    code, out, _ = run(capsys, "wall", "queue", DEMO, "--state", "approved", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["replay:d2"]
    code, out, _ = run(capsys, "wall", "decisions", DEMO, "replay:d2")
    assert [line.split()[6] for line in out.splitlines()] == [
        "queue",
        "approve",
        "pin",
        "undo",
        "undo",
        "undo",
    ]


def test_a_lifted_block_can_be_put_back(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every undo is undoable, the lift of a block too: the block comes back with its end."""
    run(capsys, "wall", "ingest", DEMO, "--once")

    def did(*argv: str) -> tuple[int, str]:
        code, out, err = run(capsys, "wall", *argv, "--user", "jonas")
        return code, (out.split()[2].rstrip(":") if code == 0 else err)

    def hidden() -> set[str]:
        _, out, _ = run(capsys, "wall", "queue", DEMO, "--state", "hidden", "--json")
        return {json.loads(line)["id"] for line in out.splitlines()}

    _, block = did("decide", DEMO, "replay:d14", "block_author", "--for", "2h")
    assert {"replay:d1", "replay:d14"} <= hidden()  # lena_k's posts
    code, lift = did("undo", DEMO, block)
    assert code == 0 and not {"replay:d1", "replay:d14"} & hidden()
    code, again = did("undo", DEMO, lift)
    assert code == 0 and {"replay:d1", "replay:d14"} <= hidden()
    code, out, _ = run(capsys, "wall", "decisions", DEMO, "replay:d1")
    assert [line.split()[6] for line in out.splitlines()][-3:] == ["hide", "undo", "hide"]
    code, out, _ = run(capsys, "audit", "show", DEMO)
    actions = [(line.split()[5], line.split()[6]) for line in out.splitlines()]
    assert actions == [
        ("wall.block_author", "replay:d14"),
        ("wall.hide", "replay:d1"),
        ("wall.undo", "replay:d14"),  # the lift
        ("wall.undo", "replay:d1"),  # the post it hid, restored
        ("wall.undo", "replay:d14"),  # the lift undone: blocked again
        ("wall.hide", "replay:d1"),
    ]
    code, _ = did("undo", DEMO, again)  # and that is undoable in turn
    assert code == 0 and not {"replay:d1", "replay:d14"} & hidden()


def test_decide_help_says_where_for_applies(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["wall", "decide", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--for DURATION block_author only: how long the block lasts" in text
    assert "the other actions hold until someone decides again" in text


def test_block_for_a_while(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "wall", "ingest", DEMO, "--once")
    code, out, _ = run(
        capsys,
        "wall",
        "decide",
        DEMO,
        "replay:d14",
        "block_author",
        "--user",
        "jonas",
        "--for",
        "2h",
    )
    assert code == 0 and "(now hidden)" in out
    code, out, _ = run(capsys, "wall", "queue", DEMO, "--state", "hidden", "--json")
    hidden = {json.loads(line)["id"] for line in out.splitlines()}
    assert {"replay:d1", "replay:d14"} <= hidden  # lena_k's other post too


@pytest.mark.parametrize(
    ("argv", "message", "exit_code"),
    [
        (
            ["decide", DEMO, "replay:nope", "approve", "--user", "maria"],
            "post replay:nope: no such post",
            8,
        ),
        (
            ["decide", DEMO, "replay:d4", "take_down", "--user", "maria"],
            "cannot take down a post that is rejected",
            8,
        ),
        (
            ["decide", DEMO, "replay:d1", "block_author", "--user", "m", "--for", "soon"],
            "--for 'soon'",
            8,
        ),
        (
            ["decide", DEMO, "replay:d1", "pin", "--user", "m", "--for", "2h"],
            "--for: only block_author takes a duration; pin holds until someone decides again",
            8,
        ),
        (
            ["decide", DEMO, "replay:d1", "pin", "--user", "m"],
            "post replay:d1: cannot pin a post that is pending",
            8,
        ),
        (["undo", DEMO, "1", "--user", "maria"], "only a person's", 8),
        (["undo", DEMO, "99999", "--user", "maria"], "decision 99999: no such decision", 8),
    ],
)
def test_bad_input_is_one_line_error(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
    exit_code: int,
) -> None:
    run(capsys, "wall", "ingest", DEMO, "--once")
    code, _, err = run(capsys, "wall", *argv)
    assert code == exit_code
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_broken_replay_feed_is_named(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "p.toml"
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    profile.write_text(text, encoding="utf-8")
    for f in (REPO / "profiles").iterdir():
        if f.name != "demo.toml" and not f.name.startswith("_"):
            target = tmp_path / f.name
            if f.is_dir():
                target.symlink_to(f, target_is_directory=True)
            elif f.name != "demo-wall.jsonl":
                target.symlink_to(f)
    (tmp_path / "demo-wall.jsonl").write_text('{"at": 0, "id": "a"\n', encoding="utf-8")
    code, _, err = run(capsys, "wall", "ingest", str(profile), "--once")
    assert code == 8 and "demo-wall.jsonl:1: not JSON" in err


async def test_migration_3_upgrades_an_existing_store(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from eventops.store import SQLiteStore
    from eventops.store.models import DecisionRow, PostRow

    path = tmp_path / "old.sqlite3"
    now = datetime(2026, 6, 18, 18, tzinfo=UTC)
    async with SQLiteStore(path, migrations=MIGRATIONS[:2]) as old:
        await old.upsert_posts([PostRow(id="p", source="s", author="a", text="t", created_at=now)])
        await old.run_write(
            lambda c: c.execute(
                "INSERT INTO decisions (post_id, ts, actor, action, reason) VALUES "
                "('p', '2026-06-18T18:00:00+00:00', 'maria', 'approve', 'ok')"
            )
        )
    async with SQLiteStore(path) as new:
        assert await new.schema_version() == LATEST  # 3 (wall), then 4 (handovers)
        (d,) = await new.list_decisions("p")
        assert (d.actor, d.prev_state, d.ref) == ("maria", None, None)
        did = await new.decide(
            DecisionRow(post_id="p", ts=now, actor="maria", action="reject"), "rejected", None
        )
        got = await new.get_decision(did)
        assert got is not None and got.prev_state == "pending" and got.prev_pinned is False


def test_queue_and_decisions_in_german(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 follow-up: ``--lang de`` names rules, reasons and actions in German; the
    default stays the English scripts read."""
    run(capsys, "wall", "ingest", DEMO, "--once")
    code, en, _ = run(capsys, "wall", "queue", DEMO, "--state", "rejected", "--limit", "100")
    assert code == 0 and "└ rule:blocked_word: blocked word 'spamcoin'" in en
    code, de, _ = run(
        capsys, "wall", "queue", DEMO, "--state", "rejected", "--limit", "100", "--lang", "de"
    )
    assert code == 0 and "└ Wortsperre: gesperrtes Wort 'spamcoin'" in de
    assert "blocked word" not in de and "rule:" not in de
    code, out, _ = run(capsys, "wall", "decisions", DEMO, "replay:d8", "--lang", "de")
    assert code == 0 and "Wortsperre" in out and "abgelehnt" in out and "gesperrtes Wort" in out
    with pytest.raises(SystemExit) as exc:
        run(capsys, "wall", "queue", DEMO, "--lang", "fr")
    assert exc.value.code == 2 and "--lang: invalid choice: 'fr'" in capsys.readouterr().err
