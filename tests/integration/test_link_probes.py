"""The demo's link probes: reflector and sink per link under ``eventops sim``/``demo``,
an acceptance through them, and the handover report that carries its figures."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from html import escape
from pathlib import Path

import aiohttp
from aiohttp import web
from eventops_hardware.fleet import SimFleet
from eventops_hardware.linkprobes import LinkProbes, plan

from eventops.api.models.acceptance import AcceptanceConfig
from eventops.engine import Engine
from eventops.errors import ProbeError
from eventops.probe.accept_measure import ProbeMeasure
from eventops.probe.acceptance import run_acceptance
from eventops.profile import load_profile
from eventops.server.app import create_app
from eventops.store import SQLiteStore

from .test_cli_engine import demo_copy

PROBE_RE = r'probe = \{ reflector = "127\.0\.0\.1:(\d+)", sink = "127\.0\.0\.1:(\d+)" \}'


def probe_demo_copy(tmp_path: Path) -> tuple[Path, int, dict[str, tuple[int, int]]]:
    """demo_copy (link probes on free loopback ports) with fibre-police at 10 Mbit/s
    and an SLA a busy test machine's loopback keeps (the wiring is under test here,
    not the probe's accuracy). Returns (profile, API port, link -> (reflector, sink))."""
    path, api = demo_copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    found = re.findall(PROBE_RE, text)
    links = ["fibre-police", "fibre-stage", "fibre-fire"]
    moved = {lk: (int(r), int(s)) for lk, (r, s) in zip(links, found, strict=True)}
    assert not {18862, 18901} & {p for ports in moved.values() for p in ports}
    police = re.compile(r'(id = "fibre-police"[^\[]*?)capacity_mbps = 500\nsla = \{[^}]*\}')
    text, n = police.subn(
        r"\g<1>capacity_mbps = 10\nsla = { loss_pct = 0.5, delay_ms = 20.0, jitter_ms = 5.0 }",
        text,
    )
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path, api, moved


async def test_accept_on_the_simulated_demo_then_hand_over(tmp_path: Path) -> None:
    path, api, _ = probe_demo_copy(tmp_path)
    profile = load_profile(path)
    link = profile.link("fibre-police")
    async with (
        SimFleet(profile),
        LinkProbes(profile) as probes,
        SQLiteStore(tmp_path / "event.sqlite3") as store,
    ):
        assert len(probes.running) == 6 and probes.skipped == []
        engine = Engine(profile, store)
        runner = web.AppRunner(create_app(engine, manage_engine=True), handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", api).start()
            await engine.poll_now([link.a.device, link.b.device])
            result = await run_acceptance(
                link,
                ProbeMeasure.for_link(link, size=1000),
                store,  # as `eventops probe accept` does: straight into the event's store
                actor="anna",
                # a sender starved of CPU on a busy host sends below the paced rate: the host,
                # not the link; what was sent must still arrive (the SLA's loss)
                config=AcceptanceConfig(
                    step_duration_s=1.0, hold_duration_s=1.0, rate_tolerance_pct=50
                ),
            )
            assert result.passed, result.summary_lines()
            assert result.hold is not None and result.throughput_mbps is not None
            base = f"http://127.0.0.1:{api}"
            tech = {"Authorization": "Bearer demo-technician-token"}
            police = {"Authorization": "Bearer demo-police-token"}
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"{base}/api/v1/links/fibre-police/handover",
                    json={"to": "police"},
                    headers=tech,
                ) as r:
                    assert r.status == 201, await r.text()
                    hid = (await r.json())["id"]
                async with http.get(f"{base}/api/v1/handovers/{hid}/report", headers=police) as r:
                    assert r.status == 200
                    html = await r.text()
                async with http.get(f"{base}/api/v1/status", headers=police) as r:
                    status = await r.json()
                async with http.get(f"{base}/api/v1/links/fibre-police", headers=police) as r:
                    proof = (await r.json())["proof"]
                async with http.get(f"{base}/status", headers=police) as r:
                    page = await r.text()
        finally:
            await runner.cleanup()

    assert "Acceptance test (ITU-T Y.1564 style) <strong>PASSED</strong>" in html
    assert f"{result.throughput_mbps:,.2f} Mbit/s" in html
    tests = [*result.steps, result.hold]
    assert [s.name for s in tests] == ["25%", "50%", "75%", "100%", "hold"]
    for s in tests:
        f = s.figures
        assert f is not None and f.delay_ms is not None and f.jitter_ms is not None
        row = next(r for r in html.split("<tr>") if r.startswith(f"<th>{s.name}</th>"))
        row = row[: row.index("</tr>")]
        assert f"{s.target_bps / 1e6:,.2f} Mbit/s" in row
        assert f"{f.receiver_bps / 1e6:,.2f} Mbit/s" in row
        assert f"{f.loss_pct:.3f} %" in row and "(limit ≤ 0.5 %)" in row
        assert f"{f.delay_ms:.3f} ms" in row and "(limit ≤ 20 ms)" in row
        assert f"{f.jitter_ms:.3f} ms" in row and "(limit ≤ 5 ms)" in row
        assert row.count(">pass<") == 4 and "FAIL" not in row
        assert row.endswith('<td class="pass"><strong>PASS</strong></td>')
    hold = result.hold.figures
    assert hold is not None
    assert escape(hold.methods["delay"]) in html and escape(hold.methods["jitter"]) in html
    assert proof["kind"] == "acceptance" and proof["passed"] is True
    assert proof["throughput_mbps"] == result.throughput_mbps
    [lv] = status["links"]
    cell = lv["cells"]["proof"]
    assert cell.startswith("acceptance passed ")
    assert cell.endswith(f", {result.throughput_mbps:.0f} Mb/s")
    assert f'<td class="c-proof">{escape(cell)}</td>' in page


def test_probe_addresses_that_are_not_loopback_are_left_to_the_real_far_end(
    tmp_path: Path,
) -> None:
    path, _, ports = probe_demo_copy(tmp_path)
    refl, sink = ports["fibre-stage"]
    text = path.read_text(encoding="utf-8").replace(
        f'reflector = "127.0.0.1:{refl}", sink = "127.0.0.1:{sink}"',
        f'reflector = "10.99.0.2:862", sink = "[::1]:{sink}"',
    )
    path.write_text(text, encoding="utf-8")
    local, remote = plan(load_profile(path))
    assert [(e.role, e.addr, e.links) for e in remote] == [
        ("reflector", "10.99.0.2:862", ("fibre-stage",))
    ]
    assert ("sink", f"[::1]:{sink}", ("fibre-stage",)) in [(e.role, e.addr, e.links) for e in local]
    assert len(local) == 5


async def test_a_port_in_use_stops_everything_with_one_line(tmp_path: Path) -> None:
    path, _, ports = probe_demo_copy(tmp_path)
    profile = load_profile(path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", ports["fibre-fire"][0]))
        probes = LinkProbes(profile)
        try:
            await probes.start()
        except ProbeError as exc:
            msg = exc.one_line()
        else:
            raise AssertionError("started on a port in use")
    assert msg == (
        f"link probe for fibre-fire: reflector cannot listen on 127.0.0.1:"
        f"{ports['fibre-fire'][0]}: Address already in use"
    )
    assert probes.running == []
    # what had started before the failure is closed again: its ports are free
    refl, sink = ports["fibre-police"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.bind(("127.0.0.1", refl))
        t.bind(("127.0.0.1", sink))


async def _eventops(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventops", *argv,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_eventops_sim_serves_the_link_probes(tmp_path: Path) -> None:
    path, _, ports = probe_demo_copy(tmp_path)
    refl, sink = ports["fibre-stage"]
    text = path.read_text(encoding="utf-8").replace(
        f'reflector = "127.0.0.1:{refl}", sink = "127.0.0.1:{sink}"',
        'reflector = "10.99.0.2:862", sink = "10.99.0.2:5301"',
    )
    path.write_text(text, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventops", "sim", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        lines: list[str] = []
        while not lines or not lines[-1].startswith("control API: "):
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, (await proc.stderr.read()).decode()
            lines.append(raw.decode().rstrip("\n"))
        out = "\n".join(lines)
        police_refl, police_sink = ports["fibre-police"]
        fire_refl, fire_sink = ports["fibre-fire"]
        assert "link probes (4 on loopback):" in out
        for link, what, addr in (
            ("fibre-police", "STAMP reflector", f"127.0.0.1:{police_refl}"),
            ("fibre-police", "throughput sink", f"127.0.0.1:{police_sink}"),
            ("fibre-fire", "STAMP reflector", f"127.0.0.1:{fire_refl}"),
            ("fibre-fire", "throughput sink", f"127.0.0.1:{fire_sink}"),
        ):
            assert re.search(rf"^  {link} +{what} +{re.escape(addr)}$", out, re.M), out
        assert (
            "  note: fibre-stage: reflector 10.99.0.2:862 is not loopback; "
            "not simulated (the real far end answers there)"
        ) in lines
        far = re.search(r"^  \(far ends in their own process, pid (\d+)\)$", out, re.M)
        assert far is not None, out
        child = int(far.group(1))
        assert child != proc.pid and _ppid(child) == proc.pid
        code, sout, serr = await _eventops(
            "probe", "stamp", "127.0.0.1", "--port", str(fire_refl), "-c", "20", "-i", "0.01"
        )
        assert code == 0, sout + serr
        assert f"STAMP 127.0.0.1:{fire_refl}: 20/20 replies" in sout
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        rest = (await proc.stdout.read()).decode()
        assert rest.strip().endswith("stopped")
        assert not _alive(child)  # stopped with the simulators
        assert "Traceback" not in (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.bind(("127.0.0.1", fire_refl))  # closed on stop
        t.bind(("127.0.0.1", fire_sink))


async def test_sim_and_demo_refuse_a_probe_port_in_use_with_one_line(tmp_path: Path) -> None:
    path, _, ports = probe_demo_copy(tmp_path)
    sink = ports["fibre-police"][1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", sink))
        busy.listen()
        for argv in (
            ("sim", str(path)),
            ("demo", "--profile", str(path), "--headless", "--duration", "10"),
        ):
            code, out, err = await _eventops(*argv)
            assert code != 0, argv
            [line] = err.splitlines()
            assert line.startswith(
                f"eventops: error: link probe for fibre-police: sink cannot listen on "
                f"127.0.0.1:{sink}: "
            ), argv
            assert line.lower().endswith("address already in use"), argv
            assert "Traceback" not in out + err


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


PARENT = """
import asyncio, sys
from eventops.profile import load_profile
from eventops_hardware.linkprobes import LinkProbesProcess

async def main():
    probes = LinkProbesProcess(load_profile(sys.argv[1]))
    await probes.start()
    print(probes.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_far_ends_run_in_a_child_that_never_outlives_its_parent(tmp_path: Path) -> None:
    """A parent that dies without stopping them (SIGKILL) leaves no far end behind."""
    path, _, ports = probe_demo_copy(tmp_path)
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(path), stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    try:
        child = int(await asyncio.wait_for(parent.stdout.readline(), 60))
        assert child != parent.pid and _ppid(child) == parent.pid
        refl, _sink = ports["fibre-police"]
        code, out, err = await _eventops(
            "probe", "stamp", "127.0.0.1", "--port", str(refl), "-c", "5", "-i", "0.01"
        )
        assert code == 0 and "5/5 replies" in out, out + err
        parent.kill()
        await parent.wait()
        for _ in range(300):  # wait until the child noticed (stdin EOF) and ended
            if not _alive(child):
                break
            await asyncio.sleep(0.1)
        assert not _alive(child), "the far ends outlived their parent"
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
    for refl, sink in ports.values():  # every far end's ports are free again
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", refl))
            t.bind(("127.0.0.1", sink))
