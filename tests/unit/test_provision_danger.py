"""Which planned changes need the typed confirmation (eventops.engine.provisioning)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from eventops.adapters.base import Change
from eventops.engine.provisioning import dangerous_changes
from eventops.profile import load_profile
from eventops.provision.apply import DevicePlan, PlanReport

REPO = Path(__file__).resolve().parents[2]


def engine(handed: dict[str, str]) -> Any:
    profile = load_profile(REPO / "profiles" / "demo.toml")
    links = {lk.id: SimpleNamespace(handed_to=handed.get(lk.id)) for lk in profile.links}
    return SimpleNamespace(profile=profile, links=links)


def plan(*devices: tuple[str, list[str]]) -> PlanReport:
    return PlanReport(
        devices=[
            DevicePlan(
                device=d,
                kind="mast",
                state="change" if paths else "unchanged",
                changes=[Change(path=p, op="change", old="1", new="2") for p in paths],
            )
            for d, paths in devices
        ],
        waves=[],
    )


def test_management_address_is_always_dangerous() -> None:
    p = plan(("mast-01", ["network.lan.ipaddr", "wireless.radio0.channel"]), ("mast-02", []))
    found = dangerous_changes(engine({}), p)
    assert [(d.device, d.path, d.reason) for d in found] == [
        ("mast-01", "network.lan.ipaddr", "moves the management address")
    ]


def test_channels_behind_a_handed_over_link_and_its_ends() -> None:
    p = plan(
        ("mast-01", ["wireless.radio0.channel", "wireless.radio0.txpower"]),
        ("sw-stage", ["interfaces.Ethernet1/2.vlans"]),
        ("sw-core", []),
    )
    assert dangerous_changes(engine({}), p) == []
    found = dangerous_changes(engine({"fibre-stage": "police"}), p)
    assert [(d.device, d.path) for d in found] == [
        ("mast-01", "wireless.radio0.channel"),
        ("sw-stage", None),
    ]
    assert found[1].reason == "an end of link fibre-stage, handed over to police"
