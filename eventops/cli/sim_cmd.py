"""``eventops sim PROFILE``: run simulated devices at the profile's addresses.

Every mast and switch of the profile gets a simulator listening at exactly
the address its ``management.url`` names (nothing overrides it), with the
credentials its secret references resolve to. Every link whose ``probe``
names loopback addresses gets a STAMP reflector and a throughput sink there
(in a child process of their own, stopped with the simulators), so the links can be probed and accepted (``eventops probe accept``); a probe
address that is not loopback is left to the real far end. Faults and
simulated time go through the control API printed at start. Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventops.errors import EventOpsError, ProbeError
from eventops.profile import load_profile

if TYPE_CHECKING:
    from eventops_hardware.tls import SimIdentity


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
    p.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="certificate chain that https devices present; written fresh (with --tls-key) if "
        "neither file exists yet, so its pin can go into the profile's tls_pin",
    )
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.set_defaults(func=sim_cmd)


async def sim_cmd(args: argparse.Namespace) -> int:
    from eventops_hardware.fleet import SimFleet
    from eventops_hardware.linkprobes import LinkProbesProcess
    from eventops_hardware.simbase import SimPortInUse
    from eventops_hardware.simclock import SkipClock

    profile = load_profile(args.profile)
    _host, sep, port = args.control.rpartition(":")
    if not sep or not port.isdigit():
        raise SimError(f"--control {args.control!r}: expected HOST:PORT")
    tls = await _identity(args.tls_cert, args.tls_key)
    fleet = SimFleet(profile, clock=SkipClock(), control=args.control, tls=tls)
    try:
        await fleet.start()
    except SimPortInUse as exc:
        raise SimError(exc.strerror or str(exc)) from None
    probes = LinkProbesProcess(profile)  # a child process of their own
    try:
        await probes.start()
    except BaseException as exc:
        await fleet.stop()
        if isinstance(exc, ProbeError):
            raise SimError(exc.one_line()) from None
        raise
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
        if probes.running or probes.skipped:
            print(f"link probes ({len(probes.running)} on loopback):")
            for line in probes.lines():
                print(line)
        if fleet.tls is not None:
            print(f"https devices present a certificate with tls_pin {fleet.tls.pin}")
            for dev in profile.devices:
                pin = dev.management.tls_pin
                if dev.management.url.startswith("https://") and pin != fleet.tls.pin:
                    print(
                        f"  note: {dev.id}: the profile's tls_pin differs; drivers will refuse it (see --tls-cert)"
                    )
        print(f"control API: {fleet.control.url}", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await probes.stop()
        await fleet.stop()
    print("stopped")
    return 0


async def _identity(cert: str | None, key: str | None) -> SimIdentity | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SimError("--tls-cert and --tls-key go together")
    try:
        ident, fresh = await asyncio.to_thread(_load_or_make, Path(cert), Path(key))
    except (ssl.SSLError, ValueError) as exc:  # SSLError is an OSError: first
        reason = getattr(exc, "reason", None) or exc
        raise SimError(f"{cert}: not a usable PEM certificate and key ({reason})") from None
    except OSError as exc:
        raise SimError(f"{exc.filename}: {exc.strerror}") from None
    if fresh:
        print(f"wrote a new certificate to {cert} and its key to {key}")
    return ident


def _load_or_make(cert: Path, key: Path) -> tuple[SimIdentity, bool]:
    from eventops_hardware.tls import SimIdentity

    fresh = not cert.exists() and not key.exists()
    if fresh:
        ident = SimIdentity.generate()
        ident.write(cert, key)
    else:
        ident = SimIdentity.from_files(cert, key)
    ident.server_context()  # fails here, not at the first device, if the pair is unusable
    return ident, fresh
