"""``eventops probe accept`` against a real sink and STAMP reflector on loopback."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eventops_hardware.linkprobes import Endpoint, LinkProbesProcess
from eventops_hardware.ports import free_ports

from eventops.store import SQLiteStore
from eventops.store.models import HandoverRow

REPO = Path(__file__).resolve().parents[2]
# Steps of a second: shorter ones make a few datagrams of pacing slack a whole percent.
QUICK = ["--step-time", "1", "--hold", "1", "--size", "1000"]
# A sending process starved of CPU on a busy 2-core host sends below the paced rate:
# that is the host, not the link; what was sent must still arrive (loss <= 0.1 %).
LOADED_HOST = ["--rate-tolerance", "50"]


@pytest.fixture
async def far_end() -> AsyncIterator[tuple[int, int]]:
    """A sink and a STAMP reflector in a process of their own (as on a real link: the
    far end's packets never wait for this test process)."""
    sink_port, refl_port = free_ports(2)
    ends = [
        Endpoint("sink", f"127.0.0.1:{sink_port}", ("fibre-police",)),
        Endpoint("reflector", f"127.0.0.1:{refl_port}", ("fibre-police",)),
    ]
    async with LinkProbesProcess.of(ends) as probes:
        assert probes.pid is not None
        yield sink_port, refl_port


@pytest.fixture
def profile(tmp_path: Path, far_end: tuple[int, int]) -> Path:
    """The demo profile, with fibre-police's probe pointing at our far end, at 20 Mbit/s,
    with a delay and jitter SLA that loopback keeps however busy the host is (the 2 ms
    of a real fibre is a few scheduler delays here); loss stays judged at 0.1 %."""
    sink_port, refl_port = far_end
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'probe = { reflector = "127.0.0.1:18862", sink = "127.0.0.1:18901" }',
        f'probe = {{ reflector = "127.0.0.1:{refl_port}", sink = "127.0.0.1:{sink_port}" }}',
    )
    text, n = re.subn(
        r"(id = \"fibre-police\"(?:\n[^\[]*?)capacity_mbps = )500\nsla = \{[^}]*\}",
        r"\g<1>20\nsla = { loss_pct = 0.1, delay_ms = 50.0, jitter_ms = 20.0 }",
        text,
    )
    assert n == 1 and f"127.0.0.1:{sink_port}" in text
    shutil.copytree(REPO / "profiles" / "demo-secrets", tmp_path / "demo-secrets")
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def eventops(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventops", *argv,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_accept_passes_on_loopback_and_is_stored(profile: Path, data_dir: Path) -> None:
    db = data_dir / "demo.sqlite3"
    code, out, err = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), "--actor", "anna", *QUICK,
        *LOADED_HOST,
    )  # fmt: skip
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert [ln.split()[0] for ln in lines[:5]] == ["25%", "50%", "75%", "100%", "hold"]
    assert all(ln.endswith("PASS") for ln in lines[:5]) and lines[-1] == "fibre-police: PASSED"
    assert "fibre-police: step 25%: pass" in err
    async with SQLiteStore(db) as store:
        results = await store.list_probe_results("fibre-police")
        entries = await store.audit_entries()
    assert len(results) == 1 and results[0].kind == "acceptance" and results[0].passed
    hold = results[0].result["hold"]["figures"]
    assert hold["delay_ms"] is not None and "STAMP" in hold["methods"]["delay"]
    assert [(e.actor, e.action) for e in entries] == [
        ("anna", "probe.accept.start"),
        ("anna", "probe.accept"),
    ]


async def test_accept_json_output(profile: Path, data_dir: Path) -> None:
    code, out, _ = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), "--json",
        "--steps", "50,100", "--step-time", "1", "--hold", "0", *LOADED_HOST,
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["passed"] is True and [s["name"] for s in doc["steps"]] == ["50%", "100%"]
    assert doc["steps"][1]["target_bps"] == 20e6 and doc["hold"] is None


async def test_handed_over_link_refuses_to_exceed_without_confirmation(
    profile: Path, data_dir: Path
) -> None:
    db = data_dir / "demo.sqlite3"
    async with SQLiteStore(db) as store:
        await store.add_handover(
            HandoverRow(ts=datetime.now(UTC), link="fibre-police", authority="police", actor="lead")
        )
        await store.audit("lead", "link.handover", "fibre-police", after={"to": "police"})
    over = ["--steps", "50", "--step-time", "1", "--hold", "0", "--search", "--search-max",
            "110", "--search-time", "0.5", "--rate-tolerance", "10"]  # fmt: skip
    code, out, err = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), *over
    )
    assert code == 7 and out == ""
    assert err.strip().splitlines() == [
        "eventops: error: fibre-police is handed over to police: refusing to exceed its "
        "contracted 20 Mbit/s (no --force); use --force and type the link id"
    ]
    code, _, err = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), *over, "--force"
    )
    assert code == 7 and "needs the link id typed at the prompt" in err
    code, _, err = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), *over, "--force",
        "--confirm", "fibre-fire",
    )  # fmt: skip
    assert code == 7 and "confirmation did not match the link id" in err
    code, out, err = await eventops(
        "probe", "accept", "fibre-police", "--profile", str(profile), *over, "--force",
        "--confirm", "fibre-police",
    )  # fmt: skip
    assert code == 0, out + err
    assert "search: highest rate" in out
    async with SQLiteStore(db) as store:
        actions = [e.action for e in await store.audit_entries()]
    assert actions == [
        "link.handover",
        "probe.accept.refused",
        "probe.accept.refused",
        "probe.accept.force",
        "probe.accept.start",
        "probe.accept",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fibre-nowhere"], "no link 'fibre-nowhere' (links: fibre-police, fibre-stage, fibre-fire)"),
        (["fibre-police", "--step-time", "-1"], "acceptance options: step_duration_s: Input should be greater than 0"),
        (["fibre-police", "--search", "--search-max", "5"], "search_min_pct must be below search_max_pct"),
    ],
)  # fmt: skip
async def test_bad_input_is_one_line(
    profile: Path, data_dir: Path, argv: list[str], message: str
) -> None:
    code, out, err = await eventops("probe", "accept", "--profile", str(profile), *argv)
    assert code == 7 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


async def test_unreachable_sink_fails_the_first_step(tmp_path: Path, data_dir: Path) -> None:
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    shutil.copytree(REPO / "profiles" / "demo-secrets", tmp_path / "demo-secrets")
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")  # demo ports: nothing listens in this test
    code, out, _ = await eventops(
        "probe", "accept", "fibre-stage", "--profile", str(path), "--step-time", "0.3"
    )
    assert code == 1
    assert "FAIL" in out.splitlines()[0] and out.strip().endswith("FAILED at 25%")
