"""``eventops probe`` commands end to end (subprocesses on loopback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventops.cli.probe_cmd import parse_rate
from eventops.errors import ProbeError


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventops", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def far_end() -> Iterator[tuple[int, int]]:
    sink_port, refl_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eventops",
                "probe",
                "sink",
                "--bind",
                "127.0.0.1",
                "--port",
                str(sink_port),
                "--duration",
                "60",
            ],
            stdout=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eventops",
                "probe",
                "reflect",
                "--bind",
                "127.0.0.1",
                "--port",
                str(refl_port),
                "--stateful",
                "--duration",
                "60",
            ],
            stdout=subprocess.PIPE,
            text=True,
        ),
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()  # printed once listening
            assert "listening on" in line or "reflector" in line
        yield sink_port, refl_port
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
            if p.stdout is not None:
                p.stdout.close()


def test_run_json_and_stamp(far_end: tuple[int, int], tmp_path: Path) -> None:
    sink_port, refl_port = far_end
    r = _cli(
        "probe",
        "run",
        "127.0.0.1",
        "--port",
        str(sink_port),
        "-b",
        "20M",
        "-t",
        "0.5",
        "-l",
        "1000",
        "-i",
        "0.2",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    got = j["end"]["sum_received"]
    # what was sent arrived, every datagram (a busy host may send fewer than the ~1250 paced)
    assert got["lost_packets"] == 0 and got["packets"] == j["end"]["sum_sent"]["packets"] > 0
    assert "s]" in r.stderr  # live progress went to stderr
    pcap = tmp_path / "stamp.pcap"
    r = _cli(
        "probe",
        "stamp",
        "127.0.0.1",
        "--port",
        str(refl_port),
        "-c",
        "10",
        "-i",
        "0.001",
        "--ssid",
        "9",
        "--pcap",
        str(pcap),
    )
    assert r.returncode == 0, r.stderr
    assert "10/10 replies" in r.stdout and pcap.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "run", "127.0.0.1", "-b", "fast"], "rate 'fast' is not a rate"),
        (["probe", "run", "127.0.0.1", "-l", "70000"], "datagram size 70000 out of range"),
        (["probe", "stamp", "127.0.0.1", "-c", "0"], "count 0 out of range"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    r = _cli(*args)
    assert r.returncode == 7
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_unreachable_peers_are_one_line() -> None:
    port = _free_port()
    for args in (
        ["probe", "run", "127.0.0.1", "--port", str(port)],
        ["probe", "iperf3", "127.0.0.1", "-p", str(port)],
        ["probe", "stamp", "127.0.0.1", "--port", str(port), "-c", "2", "--wait", "0.3"],
    ):
        t0 = time.monotonic()
        r = _cli(*args)
        assert (
            r.returncode == 7
            and r.stderr.startswith("eventops: error: ")
            and r.stderr.count("\n") == 1
        )
        assert time.monotonic() - t0 < 30


def test_parse_rate() -> None:
    assert parse_rate("100M") == 100e6
    assert parse_rate("2.5g") == 2.5e9
    assert parse_rate("0") is None
    with pytest.raises(ProbeError):
        parse_rate("-1M")


def _stock_iperf3() -> str:
    from tests.integration.stock_iperf3 import IPERF3, require_iperf3

    require_iperf3()
    return IPERF3


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    from tests.integration.stock_iperf3 import wait_listening

    wait_listening(port, proc)


def test_iperf3_server_one_off_against_stock_client() -> None:
    iperf3 = _stock_iperf3()
    port = _free_port()
    srv = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eventops",
            "probe",
            "iperf3-server",
            "--bind",
            "127.0.0.1",
            "-p",
            str(port),
            "-1",
            "-J",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_listening(port, srv)
        c = subprocess.run(
            [
                iperf3,
                "-c",
                "127.0.0.1",
                "-p",
                str(port),
                "-u",
                "-b",
                "5M",
                "-l",
                "1400",
                "-t",
                "1",
                "-J",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert c.returncode == 0, c.stdout
        out, err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.communicate()
    assert srv.returncode == 0, err
    test = json.loads(out)
    sent = json.loads(c.stdout)["end"]["sum_sent"]
    # about 450 datagrams of 1400 bytes (without -l, iperf3 sizes them by loopback's MSS and
    # sends about ten, which one in flight at the end would put 10 % apart)
    assert test["forward"]["received_packets"] == pytest.approx(sent["packets"], rel=0.02)
    assert "stopped (done): 1 test(s)" in err


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_iperf3_server_signal_prints_final_statistics(sig: str) -> None:
    import signal

    port = _free_port()
    srv = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eventops",
            "probe",
            "iperf3-server",
            "--bind",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_listening(port, srv)
        srv.send_signal(getattr(signal, sig))
        _out, err = srv.communicate(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.communicate()
    assert srv.returncode == 0
    assert f"iperf3 server stopped ({sig}): 0 test(s), 0 refused" in err
    assert "Traceback" not in err
