"""Builders for device status values used across monitor tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventops.adapters.base import (
    DeviceStatus,
    Facts,
    InterfaceStatus,
    OpticStatus,
    OpticThresholds,
    RadioStatus,
    SystemStatus,
    WlanClient,
)
from eventops.profile import Profile, load_profile

REPO = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 6, 18, 16, 0, tzinfo=UTC)


def demo_profile() -> Profile:
    return load_profile(REPO / "profiles" / "demo.toml")


def mast_status(
    device: str = "mast-01",
    *,
    at: float = 0.0,
    uptime: float = 1000.0,
    ch2: int = 6,
    ch5: int = 100,
    width5: int = 80,
    tx5: float = 23.0,
    up5: bool = True,
    clients: int = 3,
    util5: float = 20.0,
    noise5: float = -95.0,
    carrier: bool = True,
    speed: float = 1000.0,
    load: float = 0.3,
    mem_free_pct: float = 60.0,
) -> DeviceStatus:
    ts = T0 + timedelta(seconds=at)
    cl = [WlanClient(mac=f"02:00:00:00:00:{i:02x}") for i in range(clients)]
    return DeviceStatus(
        device=device,
        ts=ts,
        facts=Facts(device=device, uptime_s=uptime),
        system=SystemStatus(
            uptime_s=uptime,
            load=(load, load, load),
            memory_total=1000,
            memory_available=int(mem_free_pct * 10),
        ),
        radios=[
            RadioStatus(name="phy0-ap0", band="2g", channel=ch2, width_mhz=20, tx_power_dbm=15),
            RadioStatus(
                name="phy1-ap0",
                band="5g",
                up=up5,
                channel=ch5,
                width_mhz=width5,
                tx_power_dbm=tx5,
                utilisation_pct=util5,
                noise_dbm=noise5,
                clients=cl,
            ),
        ],
        interfaces=[
            InterfaceStatus(
                name="wan",
                oper_status="UP" if carrier else "DOWN",
                carrier=carrier,
                speed_mbps=speed,
            )
        ],
    )


def switch_status(
    device: str,
    ports: dict[str, dict[str, object]],
    *,
    at: float = 0.0,
    uptime: float = 5000.0,
) -> DeviceStatus:
    """``ports``: name -> {oper, rx, in_octets, out_octets, errors, flaps, thresholds}."""
    ifaces, optics = [], []
    for name, p in ports.items():
        ifaces.append(
            InterfaceStatus(
                name=name,
                oper_status=str(p.get("oper", "UP")),
                in_octets=int(p.get("in_octets", 0)),  # type: ignore[call-overload]
                out_octets=int(p.get("out_octets", 0)),  # type: ignore[call-overload]
                in_errors=int(p.get("errors", 0)),  # type: ignore[call-overload]
                carrier_transitions=int(p.get("flaps", 0)),  # type: ignore[call-overload]
            )
        )
        rx = p.get("rx")
        th = p.get("thresholds")
        optics.append(
            OpticStatus(
                port=name,
                rx_power_dbm=[] if rx is None else [float(rx)],  # type: ignore[arg-type]
                tx_power_dbm=[-5.0],
                thresholds=th if isinstance(th, dict) else {},
            )
        )
    return DeviceStatus(
        device=device,
        ts=T0 + timedelta(seconds=at),
        facts=Facts(device=device, uptime_s=uptime),
        system=SystemStatus(uptime_s=uptime),
        interfaces=ifaces,
        optics=optics,
    )


def lx_thresholds() -> dict[str, OpticThresholds]:
    return {
        "critical": OpticThresholds(input_power_lower=-21.0, input_power_upper=-1.0),
        "warning": OpticThresholds(input_power_lower=-20.0, input_power_upper=-2.0),
    }
