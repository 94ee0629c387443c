"""Provisioning without devices: rendering, resolution, diffs, order, and a scripted driver."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from eventops.adapters.base import (
    Capabilities,
    ConfigDiff,
    ConfigTree,
    DeviceDriver,
    DeviceStatus,
    Facts,
)
from eventops.clock import Clock
from eventops.errors import DeviceTimeout, ProtocolError, ProvisioningError
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch
from eventops.provision.apply import ApplyOptions, Provisioner
from eventops.provision.order import dependencies
from eventops.provision.render import (
    cac_seconds,
    effective,
    from_record,
    materialise,
    redact,
    redacted_diff,
    render,
    resolve,
    secret_paths,
    to_record,
)
from eventops.secrets import SecretRef
from eventops.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "profiles" / "demo.toml"


@pytest.fixture(scope="module")
def demo() -> Profile:
    return load_profile(DEMO)


def factory_uci() -> ConfigTree:
    return {
        "system": {"cfg01": {".type": "system", "hostname": "OpenWrt"}},
        "network": {"lan": {".type": "interface", "ipaddr": "10.20.1.2"}},
        "wireless": {
            "phyA": {".type": "wifi-device", "band": "5g", "channel": "36"},
            "phyB": {".type": "wifi-device", "band": "2g", "channel": "1"},
            "default_radio0": {".type": "wifi-iface", "device": "phyB", "ssid": "OpenWrt"},
        },
    }


def test_settings_override_defaults_then_site_then_mast(demo: Profile) -> None:
    m1, m2, m3 = (demo.mast(m) for m in ("mast-01", "mast-02", "mast-03"))
    assert [(r.band, r.channel) for r in effective(demo, m1).radios] == [("2g", 1), ("5g", 36)]
    assert [(r.band, r.channel, r.width) for r in effective(demo, m2).radios] == [
        ("2g", 11, 20),
        ("5g", 44, 40),
    ]
    assert [(r.band, r.channel) for r in effective(demo, m3).radios] == [("2g", 6), ("5g", 100)]
    assert [s.name for s in effective(demo, m3).ssids] == [
        "Altstadtfest-Gast",
        "Altstadtfest-Staff",
    ]
    # a mast that moves only its 5 GHz radio keeps the site's 2.4 GHz one
    partial = m3.model_copy(update={"radios": [m2.radios[1]] if m2.radios else None})
    assert [(r.band, r.channel) for r in effective(demo, partial).radios] == [("2g", 6), ("5g", 44)]
    # an SSID list replaces the one above it as a whole
    only = m1.model_copy(update={"ssids": [effective(demo, m1).ssids[0]]})
    assert [s.name for s in effective(demo, only).ssids] == ["Altstadtfest-Gast"]


def test_render_resolves_against_the_device_and_keeps_secrets_as_references(
    demo: Profile,
) -> None:
    d = render(demo)["mast-03"]
    assert d.tree["system"] == {"@system[0]": {"hostname": "mast-03"}}
    assert "network" in d.tree and "lan" not in d.tree["network"]  # loopback: no address change
    staff = d.tree["wireless"]["evo_altstadtfest_staff_5g"]
    assert isinstance(staff["key"], SecretRef) and staff["encryption"] == "sae-mixed"
    assert [n.channel for n in d.dfs] == [100]
    tree = resolve(d, factory_uci())
    assert tree["system"] == {"cfg01": {"hostname": "mast-03"}}
    assert tree["wireless"]["phyA"]["channel"] == "100"
    assert tree["wireless"]["evo_altstadtfest_staff_5g"]["device"] == "phyA"
    assert tree["wireless"]["default_radio0"] == {"disabled": "1"}  # not in the profile: off air
    no5g = factory_uci()
    del no5g["wireless"]["phyA"]
    with pytest.raises(ProvisioningError, match="mast-03: the device has no 5g radio"):
        resolve(d, no5g)
    # a mast with no radios in the profile: SSIDs go on the bands the device has
    bare = demo.model_copy(
        update={
            "defaults": demo.defaults.model_copy(
                update={"mast": demo.defaults.mast.model_copy(update={"radios": None})}
            ),
            "sites": [],
            "masts": [demo.mast("mast-01").model_copy(update={"site": None})],
        }
    )
    only2g = factory_uci()
    del only2g["wireless"]["phyA"]
    wl = resolve(render(bare)["mast-01"], only2g)["wireless"]
    assert sorted(wl) == [
        "default_radio0",
        "evo_altstadtfest_gast_2g",
        "evo_altstadtfest_staff_2g",
    ]
    assert wl["evo_altstadtfest_gast_2g"]["device"] == "phyB" and "phyB" not in wl
    sw = render(demo)["mc-police"]
    assert sw.tree == {
        "interfaces": {
            "sfp0": {"description": "", "enabled": True, "vlans": []},
            "eth0": {"description": "", "enabled": True, "vlans": [110]},
        }
    }
    with pytest.raises(ProvisioningError, match="no port eth0 on the device"):
        resolve(sw, {"interfaces": {"sfp0": {}}})


def test_routable_management_address_is_rendered(demo: Profile) -> None:
    m = demo.mast("mast-01")
    moved = m.model_copy(
        update={"management": m.management.model_copy(update={"url": "https://10.20.0.7:443"})}
    )
    profile = demo.model_copy(update={"masts": [moved]})
    assert render(profile)["mast-01"].tree["network"]["lan"] == {"ipaddr": "10.20.0.7"}


async def test_diffs_records_and_redaction_never_carry_secret_values(
    demo: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVO_PSK", "sup3r-secret")
    tree = {"wireless": {"a": {"ssid": "X", "key": SecretRef("env:EVO_PSK")}}}
    paths = secret_paths(tree)
    plain = await materialise(tree)
    assert plain["wireless"]["a"]["key"] == "sup3r-secret"
    running = {"wireless": {"a": {"ssid": "Y", "key": "old-secret"}}}
    diff = redacted_diff("m", running, plain, paths)
    assert [c.render() for c in diff.changes] == [
        "~ wireless.a.key: (secret changed)",
        "~ wireless.a.ssid: 'Y' -> 'X'",
    ]
    dumped = diff.model_dump_json()
    assert "sup3r-secret" not in dumped and "old-secret" not in dumped
    same = redacted_diff(
        "m", {"wireless": {"a": {"ssid": "X", "key": "sup3r-secret"}}}, plain, paths
    )
    assert same.empty
    assert redact(running)["wireless"]["a"]["key"] == "(secret)"
    rec = to_record(tree)
    assert rec["wireless"]["a"]["key"] == {"$secret": "env:EVO_PSK"}
    assert from_record(rec)["wireless"]["a"]["key"] == SecretRef("env:EVO_PSK")


def test_dfs_wait_times() -> None:
    assert cac_seconds("5g", 36, 80) is None
    assert cac_seconds("2g", 6, 20) is None
    assert cac_seconds("5g", 100, 20) == 60
    assert cac_seconds("5g", 52, 20) == 60
    assert cac_seconds("5g", 116, 80) == 600  # the block 116-128 reaches the weather radar
    assert cac_seconds("5g", 104, 80) == 60


def test_order_far_end_first_and_masts_after_their_link(demo: Profile) -> None:
    ids = [d.id for d in demo.devices]
    order = dependencies(demo, ids)
    assert order.after["sw-core"] == {"mc-police", "sw-stage", "mc-fire"}
    assert order.after["mast-01"] == {"sw-core", "sw-stage"}
    assert order.waves == [
        ["mc-police", "sw-stage", "mc-fire"],
        ["sw-core"],
        ["mast-01", "mast-02", "mast-03"],
    ]
    # only the chosen devices are ordered
    assert dependencies(demo, ["mast-01", "mc-fire"]).waves == [["mast-01", "mc-fire"]]


def test_a_ring_of_links_is_named_not_a_deadlock(demo: Profile) -> None:
    ring = demo.links[0].model_copy(
        update={"id": "ring", "a": demo.links[0].b, "b": demo.links[0].a}
    )
    profile = demo.model_copy(update={"links": [*demo.links, ring]})
    order = dependencies(profile, ["sw-core", "mc-police"])
    assert order.waves == [["sw-core", "mc-police"]]
    assert order.notes and "ring" in order.notes[0]


class ScriptedSwitch(DeviceDriver):
    """An in-memory device without device-side rollback, with scripted misbehaviour."""

    name = "scripted"
    capabilities = Capabilities(rollback_on_device=False, confirm_timeout=False)

    def __init__(self, dev: Mast | Switch, script: dict[str, Any]) -> None:
        super().__init__(dev.id, dev.management)
        self.script = script
        self.config = script["config"]
        self.candidate: ConfigTree | None = None
        self.commits = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def is_alive(self) -> bool:
        return True

    async def facts(self) -> Facts:
        return Facts(device=self.device_id)

    async def status(self) -> DeviceStatus:
        raise NotImplementedError

    async def get_config(self) -> ConfigTree:
        return copy.deepcopy(self.config)

    async def load_candidate(self, candidate: ConfigTree) -> None:
        self.candidate = candidate

    async def compare(self) -> ConfigDiff:
        return ConfigDiff(device=self.device_id)

    async def commit(self, confirm_timeout: float | None = None) -> None:
        assert self.candidate is not None
        self.commits += 1
        if self.commits in self.script.get("fail_commits", ()):
            raise ProtocolError(self.device_id, "HTTP 500: internal error", code=500)
        lost = self.script.get("lose_answer")
        if lost == "before":
            raise DeviceTimeout(self.device_id, "no answer within 2 s")
        if self.script.get("bug"):
            raise KeyError("interfaces")
        for port, leaves in self.candidate["interfaces"].items():
            for k, v in leaves.items():
                if self.commits == 1 and k == "description" and self.script.get("garble"):
                    v = v[:3]  # the device keeps only part of what it was sent
                self.config["interfaces"][port][k] = v
        if lost == "after":
            raise DeviceTimeout(self.device_id, "no answer within 2 s")

    async def confirm(self) -> None:
        return None

    async def discard(self) -> None:
        self.candidate = None

    async def rollback(self) -> None:
        raise NotImplementedError

    async def reboot(self) -> None:
        raise NotImplementedError


async def scripted_apply(demo: Profile, tmp_path: Path, script: dict[str, Any]) -> Any:
    profile = demo.model_copy(
        update={
            "switches": [
                s.model_copy(
                    update={
                        "ports": [p.model_copy(update={"description": "Polizei"}) for p in s.ports]
                    }
                )
                for s in demo.switches
                if s.id == "mc-police"
            ],
            "masts": [],
            "links": [],
        }
    )
    async with SQLiteStore(tmp_path / "s.db") as store:
        prov = Provisioner(
            profile,
            store,
            lock_dir=tmp_path / "locks",
            options=ApplyOptions(confirm_timeout_s=1, poll_s=0.01),
            driver_factory=lambda dev, clock, timeout: ScriptedSwitch(dev, script),
        )
        report = await prov.apply(actor="t")
    (res,) = report.devices
    return res


@pytest.mark.parametrize(
    ("lost", "result", "state", "reason"),
    [
        ("after", "applied", "new", "the read-back shows the change"),
        ("before", "failed", "old", "the device kept its old config"),
        ("bug", "unknown", "unknown", "internal error (KeyError: 'interfaces') — unknown"),
    ],
)
async def test_a_commit_without_answer_is_judged_by_the_read_back(
    demo: Profile, tmp_path: Path, lost: str, result: str, state: str, reason: str
) -> None:
    config = {
        "interfaces": {
            "sfp0": {"description": "", "enabled": True, "vlans": []},
            "eth0": {"description": "old", "enabled": True, "vlans": [7]},
        }
    }
    script: dict[str, Any] = {"config": config}
    if lost == "bug":
        script["bug"] = True
    else:
        script["lose_answer"] = lost
    res = await scripted_apply(demo, tmp_path, script)
    assert (res.result, res.state) == (result, state)
    assert reason in (res.reason or "")
    if lost != "bug":
        assert (res.reason or "").startswith("the commit got no answer (no answer within 2 s)")


@pytest.mark.parametrize(
    ("fail_commits", "result", "state"),
    [((), "restored", "old"), ((2,), "unknown", "unknown")],
)
async def test_driver_without_device_rollback_restores_itself(
    demo: Profile, tmp_path: Path, fail_commits: tuple[int, ...], result: str, state: str
) -> None:
    original = {
        "interfaces": {
            "sfp0": {"description": "", "enabled": True, "vlans": []},
            "eth0": {"description": "old", "enabled": True, "vlans": [7]},
        }
    }
    script = {"config": copy.deepcopy(original), "garble": True, "fail_commits": fail_commits}
    profile = demo.model_copy(
        update={
            "switches": [
                s.model_copy(
                    update={
                        "ports": [p.model_copy(update={"description": "Polizei"}) for p in s.ports]
                    }
                )
                for s in demo.switches
                if s.id == "mc-police"
            ],
            "masts": [],
            "links": [],
        }
    )
    drivers: list[ScriptedSwitch] = []

    def factory(dev: Mast | Switch, clock: Clock, timeout: float) -> DeviceDriver:
        drivers.append(ScriptedSwitch(dev, script))
        return drivers[-1]

    async with SQLiteStore(tmp_path / "s.db") as store:
        prov = Provisioner(
            profile,
            store,
            lock_dir=tmp_path / "locks",
            options=ApplyOptions(confirm_timeout_s=1, poll_s=0.01),
            driver_factory=factory,
        )
        report = await prov.apply(actor="t")
    (res,) = report.devices
    assert (res.result, res.state) == (result, state)
    assert "read-back config differs at interfaces.eth0.description" in (res.reason or "")
    if result == "restored":
        assert script["config"] == original
        assert "cannot roll back by themselves: eventops restored the previous config" in (
            res.reason or ""
        )
    else:
        assert (res.reason or "").endswith("unknown — site visit needed")
        assert "HTTP 500: internal error" in (res.reason or "")


def test_terminal_progress_lines_and_bar() -> None:
    import io

    from eventops.provision.apply import ProgressEvent
    from eventops.provision.progress import TerminalProgress

    for tty in (False, True):
        out = io.StringIO()
        show = TerminalProgress(out, tty=tty)
        show(ProgressEvent("start", None, "apply #1", total=2))
        show(ProgressEvent("committing", "mast-01"))
        show(ProgressEvent("done", "mast-01", "applied", done=1, total=2, result="applied"))
        show(
            ProgressEvent(
                "done", "mast-02", "unreachable: refused", done=2, total=2, result="unreachable"
            )
        )
        show(ProgressEvent("finish", None, "", done=2, total=2))
        text = out.getvalue()
        assert "ok mast-01          applied\n" in text
        assert "!! mast-02          unreachable: refused\n" in text
        assert ("[############............] 1/2" in text) is tty
        assert ("mast-01: committing" in text) is tty
