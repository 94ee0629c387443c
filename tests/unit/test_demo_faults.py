"""The demo's fault plan: a different fault each step, round after round."""

from __future__ import annotations

import itertools
from typing import Any

from eventops.demo import CYCLE_S, fault_step, faults


class NoFleet:
    """The plan only names the actions; nothing here is called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the plan called fleet.{name} while planning")


def test_until_quit_a_different_fault_every_minute_forever() -> None:
    plan = list(itertools.islice(faults(NoFleet(), None), 12))
    assert [f.at_s for f in plan] == [10.0 + CYCLE_S * k for k in range(12)]
    labels = [f.label for f in plan]
    assert labels[:5] == [
        "optics of fibre-police start to degrade",
        "mast-02 reboots",
        "fibre-police cleaned and re-patched",
        "radio fault: interference on mast-01's 5 GHz radio",
        "mast-01's interference gone",
    ]
    assert labels[5:10] == labels[:5] and labels[10] == labels[0]  # round after round
    assert all(a != b for a, b in itertools.pairwise(labels))


def test_a_headless_run_fits_its_faults_into_its_duration() -> None:
    assert fault_step(30) == 6.0 and fault_step(600) == CYCLE_S
    plan = list(faults(NoFleet(), 30))
    assert [f.at_s for f in plan] == [4.5, 10.5, 16.5, 22.5]  # each with time to be noticed
    plan = list(faults(NoFleet(), 600))
    assert len(plan) == 10 and plan[-1].at_s == 550.0
    assert [f.label for f in plan[5:]] == [f.label for f in plan[:5]]
