"""The engine's commands as a user runs them: serve, link handover, export, demo."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.ports import free_ports

from eventops.profile import load_profile

from .simrig import REPO

EVENTOPS = [sys.executable, "-m", "eventops"]


def demo_copy(tmp_path: Path) -> tuple[Path, int]:
    """profiles/demo.toml with every device, link probe and the API on free loopback ports."""
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    addrs = sorted(set(re.findall(r"http://127\.0\.0\.1:(\d+)", text)))
    probes = sorted(set(re.findall(r'(?:reflector|sink) = "127\.0\.0\.1:(\d+)"', text)))
    ports = free_ports(len(addrs) + len(probes) + 1)
    for old, new in zip(addrs, ports, strict=False):
        text = text.replace(f"http://127.0.0.1:{old}", f"http://127.0.0.1:{new}")
    for old, new in zip(probes, ports[len(addrs) :], strict=False):
        text = text.replace(f'"127.0.0.1:{old}"', f'"127.0.0.1:{new}"')
    api = ports[-1]
    text = text.replace('listen = "127.0.0.1:8470"', f'listen = "127.0.0.1:{api}"')
    shutil.copytree(REPO / "profiles" / "demo-secrets", tmp_path / "demo-secrets")
    shutil.copy(REPO / "profiles" / "demo-wall.jsonl", tmp_path / "demo-wall.jsonl")
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path, api


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *EVENTOPS,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Path]:
    from eventops_hardware.fleet import SimFleet

    path, _ = demo_copy(tmp_path)
    async with SimFleet(load_profile(path)):
        yield path


async def test_serve_answers_reloads_on_sighup_and_stops_cleanly(tmp_path: Path) -> None:
    path, api = demo_copy(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        *EVENTOPS,
        "serve",
        str(path),
        "--db",
        str(tmp_path / "s.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("eventops: serving Altstadtfest Demo on http://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"http://127.0.0.1:{api}/api/v1/whoami",
                headers={"Authorization": "Bearer demo-police-token"},
            ) as r,
        ):
            assert r.status == 200
            assert await r.json() == {
                "name": "polizei-lage",
                "role": "authority",
                "authority": "police",
                "timezone": "Europe/Berlin",  # the event's zone: clients show times in it
            }
        proc.send_signal(signal.SIGHUP)
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("eventops: profile reloaded:")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        err = (await proc.stderr.read()).decode()
        assert "Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_errors_are_one_line(tmp_path: Path) -> None:
    path, _ = demo_copy(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('optic = "10GBASE-LR"', 'optic = "40GBASE-X"'))
    code, _, err = await run("serve", str(bad), "--db", str(tmp_path / "b.sqlite3"))
    assert code == 2 and "optic" in err and "Traceback" not in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = await run(
            "serve", str(path), "--listen", f"127.0.0.1:{port}", "--db", str(tmp_path / "c.sqlite3")
        )
    assert code == 9
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"eventops: error: cannot listen on 127.0.0.1:{port}: ")
    assert "address already in use" in lines[0]


async def test_handover_in_process_report_and_export(fleet: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite3")
    report = tmp_path / "handover.html"
    base = ["link", "handover", "fibre-police", "--to", "police", "--profile", str(fleet)]
    base += ["--db", db, "--by", "technik", "--report", str(report)]
    # never accepted: refused with the reason, in one line, nothing written
    code, out, err = await run(*base)
    assert code == 9 and out == "" and not report.exists()
    assert err.splitlines() == [
        "eventops: error: fibre-police not handed over: no proof (no acceptance test of the "
        "link is recorded); run an acceptance test first, or force it with a reason"
    ]
    code, out, err = await run(*base, "--force")
    assert code == 9 and err.splitlines() == [
        "eventops: error: --force needs --reason TEXT (why the link goes over unproven)"
    ]
    english = {"LANG": "C.UTF-8"}  # the report's language follows $LANG unless --lang
    code, out, err = await run(
        *base, "--force", "--reason", "Einsatz läuft, Test folgt", env=english
    )
    assert code == 0, err
    unproven = (
        "HANDED OVER UNPROVEN by technik: no acceptance test of the link is recorded. "
        "Reason given: Einsatz läuft, Test folgt"
    )
    lines = out.splitlines()
    assert lines[0] == unproven
    assert re.match(
        r"handed fibre-police over to police \(record #1\); baseline rx a: -\d+\.\d\d dBm, b: -\d+\.\d\d dBm",
        lines[1],
    )
    assert "acceptance: none recorded" in out
    html = report.read_text(encoding="utf-8")
    assert "Polizeipräsidium, Führungsstab" in html and "by technik" in html
    assert (
        html.split("<body>", 1)[1]
        .lstrip()
        .startswith(f'<p class="unproven"><strong>{unproven}</strong></p>')
    )
    # in German: from $LANG, or --lang (which wins)
    german = tmp_path / "uebergabe.html"
    again = [*base[:-1], str(german), "--force", "--reason", "Test folgt"]
    code, out, err = await run(*again, env={"LANG": "de_DE.UTF-8"})
    assert code == 0, err
    de = german.read_text(encoding="utf-8")
    assert '<html lang="de">' in de and "OHNE NACHWEIS ÜBERGEBEN von technik: keine Abnahme" in de
    code, out, err = await run(*again, "--lang", "en", env={"LANG": "de_DE.UTF-8"})
    assert code == 0 and "HANDED OVER UNPROVEN" in german.read_text(encoding="utf-8"), err
    code, out, err = await run(*again, "--lang", "fr")
    assert code == 2 and "--lang" in err
    code, out, err = await run(
        "link", "handover", "fibre-police", "--to", "fire", "--profile", str(fleet), "--db", db
    )
    assert code == 9 and err.strip() == (
        "eventops: error: link fibre-police is not tagged for fire "
        "(add it to the link's authorities)"
    )
    code, out, err = await run(
        "link", "handover", "fibre-nope", "--to", "fire", "--profile", str(fleet), "--db", db
    )
    assert code == 2 and "no link 'fibre-nope'" in err
    export = tmp_path / "export.json"
    code, out, err = await run("export", str(fleet), "--db", db, "--out", str(export))
    assert code == 0 and out.startswith(f"exported to {export}: ")
    assert '"handovers"' in export.read_text(encoding="utf-8")
    code, _, err = await run("audit", "verify", str(fleet), "--db", db)
    assert code == 0, err
    # the report and the export each carry a signed checkpoint of the audit head
    assert "data-eventops-audit-checkpoint" in html
    for carrier in (report, export):
        code, out, err = await run(
            "audit", "verify", str(fleet), "--db", db, "--checkpoint", str(carrier)
        )
        assert code == 0 and "holds the" in out, err


async def test_handover_when_an_end_is_unreachable(tmp_path: Path) -> None:
    path, _ = demo_copy(tmp_path)  # no simulators running
    code, _, err = await run(
        "link",
        "handover",
        "fibre-police",
        "--to",
        "police",
        "--profile",
        str(path),
        "--db",
        str(tmp_path / "u.sqlite3"),
    )
    assert code == 9
    assert err.startswith("eventops: error: sw-core: cannot connect to http://127.0.0.1:")
    assert err.count("\n") == 1


@pytest.mark.slow
async def test_demo_headless_summary(tmp_path: Path) -> None:
    path, api = demo_copy(tmp_path)
    code, out, err = await run(
        "demo",
        "--headless",
        "--duration",
        "30",  # README's command: its faults 6 s apart leave a busy host room to see each
        "--profile",
        str(path),
        "--listen",
        f"127.0.0.1:{api}",
    )
    assert code == 0, err
    assert "link probes (6 on loopback):" in out
    assert re.search(r"^  fibre-fire +STAMP reflector +127\.0\.0\.1:\d+$", out, re.M)
    assert "--- eventops demo: 30 s ---" in out
    assert re.search(
        r"optics of fibre-police start to degrade -> alert after \d+\.\d s: fibre-police", out
    )
    assert re.search(r"mast-02 reboots -> alert after \d+\.\d s: mast-02", out)
    assert "fibre-police cleaned and re-patched -> link up after" in out
    assert "raised    critical link:fibre-police:down" in out


async def test_handover_goes_through_the_running_engine(fleet: Path, tmp_path: Path) -> None:
    listen = load_profile(fleet).server.listen
    proc = await asyncio.create_subprocess_exec(
        *EVENTOPS,
        "serve",
        str(fleet),
        "--db",
        str(tmp_path / "api.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("eventops: serving")
        await asyncio.sleep(1.0)  # let the first polls land
        args = ["link", "handover", "fibre-fire", "--to", "fire", "--profile", str(fleet)]
        code, _, err = await run(*args, env={"EVENTOPS_TOKEN": ""})
        assert code == 2 and "set EVENTOPS_TOKEN to a technician token" in err
        code, _, err = await run(*args, env={"EVENTOPS_TOKEN": "demo-fire-token"})
        assert code == 9 and "refused the handover: 403 forbidden" in err
        tech = {"EVENTOPS_TOKEN": "demo-technician-token"}
        code, _, err = await run(*args, env=tech)
        assert code == 9 and err.splitlines() == [
            f"eventops: error: engine at http://{listen} refused the handover: 409 fibre-fire "
            "not handed over: no proof (no acceptance test of the link is recorded); run an "
            "acceptance test first, or force it with a reason"
        ]
        args += ["--force", "--reason", "storm coming", "--json"]
        for _ in range(20):
            code, out, err = await run(*args, env=tech)
            if code == 0 or "no fresh reading" not in err:
                break
            await asyncio.sleep(0.5)
        assert code == 0, err
        doc = json.loads(out)
        assert next(iter(doc)) == "unproven" and doc["unproven"].endswith(
            "Reason given: storm coming"
        )
        assert doc["id"] == 1 and doc["record"]["proof"]["forced"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    # the engine's store has the record and the audit entry with the token's user
    code, out, _ = await run("audit", "show", str(fleet), "--db", str(tmp_path / "api.sqlite3"))
    assert code == 0 and "technik" in out and "link.handover" in out and "fibre-fire" in out
