"""The real thing in a real terminal: ``eventops demo`` in tmux at 80×24.

A tmux server of the test's own (its socket in tmp_path) runs the demo on a
copy of the demo profile whose devices, link probes and API listen on free
loopback ports (``demo_copy``), so it never meets another demo's fixed ports.
The test switches to every view with keys as a person types them, captures
the pane each time and asserts: no traceback, and the header's first line
names the view (not cut off at 80 columns); the key bar ends in ``? help``.
Every wait polls the captured pane for the text it needs (bounded, never a
sleep-then-assert); the demo ends through ``q`` and its confirmation.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.tui.conftest import TEST_CONFIG
from tests.integration.test_cli_engine import demo_copy

TMUX = shutil.which("tmux")
W, H = 80, 24
VIEWS = {
    "masts": "Masts",
    "devices": "Devices",
    "links": "Links",
    "alerts": "Alerts",
    "timeline": "Timeline",
    "wall": "Social wall",
    "probe": "Probe",
    "map": "Map",
    "pulse": "Pulse",
}


class Pane:
    """One detached tmux session on a private server."""

    def __init__(self, sock: Path) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-S", str(sock)]

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "demo", "-x", str(W), "-y", str(H), command)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "demo", *(["-l"] if literal else []), *keys)

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "demo")

    def wait_for(self, cond: Callable[[str], bool], what: str, limit_s: float = 120.0) -> str:
        """Poll the pane until ``cond(text)``; a traceback on screen fails at once."""
        end = time.monotonic() + limit_s
        while True:
            text = self.capture()
            assert "Traceback" not in text, f"traceback on screen while waiting for {what}:\n{text}"
            if cond(text):
                return text
            if time.monotonic() > end:
                raise AssertionError(f"never on screen: {what}\n{text}")
            time.sleep(0.1)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    if TMUX is None:
        pytest.skip("tmux is not installed")  # a failure under CI=true (tests/conftest.py)
    sock = tmp_path / "tmux.sock"
    p = Pane(sock)
    try:
        yield p
    finally:
        subprocess.run([*p.base, "kill-server"], capture_output=True, timeout=30, check=False)


def header(text: str) -> str:
    return text.splitlines()[0] if text else ""


def hints_drawn(text: str) -> bool:
    return any(ln.rstrip().endswith("? help") for ln in text.splitlines()[-2:])


def shows(view_title: str) -> Callable[[str], bool]:
    """The view is in front, its key bar drawn (the bar follows the focus a frame later)."""
    return lambda text: header(text).startswith(f" eventops  {view_title} ") and hints_drawn(text)


def check(text: str, title: str) -> None:
    lines = text.splitlines()
    assert header(text).startswith(f" eventops  {title} "), header(text)
    assert " live " in header(text) or " disconnected " in header(text), header(text)
    assert all(len(ln) <= W for ln in lines)
    assert hints_drawn(text), lines[-2:]


def test_demo_at_80x24_in_tmux_every_view(pane: Pane, tmp_path: Path) -> None:
    profile, api = demo_copy(tmp_path)
    cfg = tmp_path / "tui.toml"
    cfg.write_text(TEST_CONFIG)
    env = {k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "EVENTOPS_"))}
    env |= {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
    demo = " ".join(
        shlex.quote(a)
        for a in (
            sys.executable,
            "-m",
            "eventops",
            "demo",
            "--tui",
            "--profile",
            str(profile),
            "--listen",
            f"127.0.0.1:{api}",
            "--tui-config",
            str(cfg),
        )
    )
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # the pane stays after the demo ends, with its exit code (and any traceback) on it
    pane.start(f'env {exports} {demo}; echo "== demo exit $?"; sleep 600')
    live = pane.wait_for(lambda t: shows("Pulse")(t) and " live " in header(t), "a live Pulse")
    check(live, "Pulse")
    for view, title in VIEWS.items():
        pane.keys(f":{view}", literal=True)
        pane.keys("Enter")
        check(pane.wait_for(shows(title), f"the {title} view"), title)
        if view == "wall":  # which list it shows, in the header
            assert "Social wall [list: pending] · " in header(pane.capture())
        if view == "links":  # the columns a link is handed over on stay at 80 columns
            pane.wait_for(lambda t: "Margin dB  Handed to" in t.splitlines()[1], "Links' columns")
        if view == "map":  # the site drawn, the selected item's detail under it
            pane.wait_for(lambda t: "sw-core" in t and "mast-01" in t, "the site on the map")
    # a device's detail (enter on a mast), Provision, help: each names itself too
    pane.keys(":masts", literal=True)
    pane.keys("Enter")
    pane.wait_for(shows("Masts"), "the Masts view again")
    pane.wait_for(lambda t: "mast-01" in t, "the masts listed")
    pane.keys("Enter")
    check(pane.wait_for(shows("Device"), "a mast's detail"), "Device")
    pane.keys("Escape")
    pane.wait_for(shows("Masts"), "back on Masts")
    pane.keys(":provision", literal=True)
    pane.keys("Enter")
    check(pane.wait_for(shows("Provision"), "the Provision view"), "Provision")
    pane.keys("Escape")
    pane.wait_for(shows("Masts"), "back from Provision")
    pane.keys("?")
    text = pane.wait_for(lambda t: "Active keys" in t, "the help")
    assert ":provision" in text or "Commands (type :)" in text
    pane.keys("Escape")
    pane.wait_for(lambda t: "Active keys" not in t, "help closed")
    # q asks before it ends the demo; n keeps it, q y ends it
    pane.keys("q")
    pane.wait_for(lambda t: "End the demo?" in t, "the quit question")
    pane.keys("n")
    pane.wait_for(lambda t: "End the demo?" not in t, "the demo goes on")
    pane.keys("q")
    pane.wait_for(lambda t: "End the demo?" in t, "the quit question again")
    pane.keys("y")
    text = pane.wait_for(lambda t: "== demo exit" in t, "the demo ends")
    assert "== demo exit 0" in text, text
