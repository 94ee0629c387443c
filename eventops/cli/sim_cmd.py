"""``eventops sim PROFILE``: run simulated devices at the profile's addresses.

Every mast and switch of the profile gets a simulator listening at exactly
the address its ``management.url`` names (nothing overrides it), with the
credentials its secret references resolve to. Faults and simulated time go
through the control API printed at start. Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from eventops.errors import EventOpsError
from eventops.profile import load_profile


class SimError(EventOpsError):
    title = "Simulator could not start"
    exit_code = 10


def register(sub: Any) -> None:
    p = sub.add_parser("sim", help="run simulated masts and switches at the profile's addresses")
    p.add_argument("profile", help="the event profile (TOML)")
    p.add_argument(
        "--control",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="where the fault/time control API listens (default: a free loopback port)",
    )
    p.set_defaults(func=sim_cmd)


async def sim_cmd(args: argparse.Namespace) -> int:
    from eventops_hardware.fleet import SimFleet
    from eventops_hardware.simbase import SimPortInUse
    from eventops_hardware.simclock import SkipClock

    profile = load_profile(args.profile)
    _host, sep, port = args.control.rpartition(":")
    if not sep or not port.isdigit():
        raise SimError(f"--control {args.control!r}: expected HOST:PORT")
    fleet = SimFleet(profile, clock=SkipClock(), control=args.control)
    try:
        await fleet.start()
    except SimPortInUse as exc:
        raise SimError(exc.strerror or str(exc)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        print(
            f"simulating {len(fleet.masts)} masts and {len(fleet.switches)} switches of {profile.event.id}"
        )
        for d in fleet.devices:
            print(f"  {d.device_id:<20} {d.kind:<7} {d.url}")
        if fleet.tls is not None:
            print(f"https devices present a certificate with tls_pin {fleet.tls.pin}")
        print(f"control API: {fleet.control.url}", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await fleet.stop()
    print("stopped")
    return 0
