"""The compiled and the pure-Python engines account one trace identically."""

from __future__ import annotations

import array
import random

import pytest

from eventops.errors import ProbeError
from eventops.probe import datapath as dp_mod
from eventops.probe.datapath import PyAccountant, c_engine, load_engine


def _trace(seed: int, n: int = 20_000) -> array.array[int]:
    """A trace with loss, duplicates, local reordering and a few very late arrivals."""
    rnd = random.Random(seed)
    out: list[int] = []
    held: list[int] = []
    for s in range(n):
        r = rnd.random()
        if r < 0.02:
            continue  # lost
        if r < 0.04:
            held.append(s)  # delivered later (reordered)
            continue
        out.append(s)
        if r < 0.05:
            out.append(s)  # duplicated
        if held and rnd.random() < 0.3:
            out.append(held.pop(0))
        if rnd.random() < 0.001 and s > 3000:
            out.append(s - 3000)  # far behind: late (beyond a 1024 window) and maybe a dup
    out.extend(held)
    out.extend([n + 5000, n + 1])  # a jump, then one from inside the gap
    return array.array("Q", out)


@pytest.mark.parametrize("window", [1024, 1 << 20])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_and_python_count_the_same(seed: int, window: int) -> None:
    trace = _trace(seed)
    c = c_engine().Accountant(window)
    py = PyAccountant(window)
    c.feed(trace.tobytes())
    py.feed(trace)
    assert c.counters() == py.counters()
    got = py.counters()
    assert got["duplicated"] > 0 and got["reordered"] > 0
    if window == 1024:
        assert got["late"] > 0
    else:
        assert got["late"] == 0


def test_rules_on_a_small_trace() -> None:
    a = PyAccountant(8)
    a.feed(array.array("Q", [0, 1, 3, 2, 2, 5, 4, 20, 1, 30, 29]))
    assert a.counters() == {
        "received": 9,  # the late 1 is a duplicate: never counted as received
        "duplicated": 1,
        "reordered": 3,  # 2, 4, 29
        "late": 1,  # 1 arrives 19 behind with a window of 8
        "max_reorder_extent": 19,
        "highest_seq": 30,
    }
    b = c_engine().Accountant(8)
    b.feed(array.array("Q", [0, 1, 3, 2, 2, 5, 4, 20, 1, 30, 29]).tobytes())
    assert b.counters() == a.counters()


def test_window_must_be_power_of_two() -> None:
    with pytest.raises(ValueError):
        PyAccountant(1000)
    with pytest.raises(ValueError):
        c_engine().Accountant(1000)


def test_ci_refuses_to_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dp_mod.Datapath:
        raise ProbeError("compiled probe engine eventops.probe._fastprobe not importable: gone")

    monkeypatch.setattr(dp_mod, "c_engine", broken)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ProbeError, match="not importable"):
        dp_mod.load_engine()
    monkeypatch.setenv("CI", "false")
    assert dp_mod.load_engine().name == "python"


def test_compiled_engine_is_built() -> None:
    assert load_engine("c").name == "c"
