"""Range checks shared by the probe's entry points: one-line :class:`ProbeError`s."""

from __future__ import annotations

import errno
import math
import os

from eventops.errors import ProbeError
from eventops.i18n import Msg


def check_port(port: object, what: str = "port", *, listen: bool = False) -> int:
    """A TCP/UDP port: 1..65535 to connect to; 0..65535 to listen on (0: kernel's pick)."""
    lo = 0 if listen else 1
    if isinstance(port, bool) or not isinstance(port, int) or not lo <= port <= 65535:
        raise ProbeError(f"{what} {port} out of range ({lo}..65535)")
    return port


def check_seconds(value: float | None, what: str, lo: float, hi: float) -> None:
    """``lo < value <= hi`` (None passes: no limit)."""
    if value is None:
        return
    if not isinstance(value, int | float) or not math.isfinite(value) or not lo < value <= hi:
        raise ProbeError(f"{what} {value:g} s out of range ({lo:g} < {what} <= {hi:g})")


def check_interval(value: float) -> None:
    """A progress interval: at least 10 ms (so progress lines cannot flood), at most 1 h."""
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0.01 <= value <= 3600:
        raise ProbeError(f"interval {value:g} s out of range (0.01..3600)")


def os_reason(exc: OSError) -> str:
    """The kernel's reason for a failed call (``No route to host`` ...).

    asyncio's connect errors carry the errno but a ``strerror`` of "Connect
    call failed (addr)", which hides the reason.
    """
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


_OS_MSGS = {
    errno.ECONNREFUSED: "probe.os.refused",
    errno.EHOSTUNREACH: "probe.os.host_unreachable",
    errno.ENETUNREACH: "probe.os.net_unreachable",
    errno.ETIMEDOUT: "probe.os.timed_out",
    errno.EADDRNOTAVAIL: "probe.os.no_address",
    errno.EACCES: "probe.os.denied",
    errno.EPERM: "probe.os.denied",
}


def os_failure(where: str, exc: OSError, lead: str = "") -> ProbeError:
    """``{where}: {lead}{the kernel's reason}`` as a ProbeError that also carries the
    reason as a message (eventops.i18n), for the common reasons in other languages."""
    reason = os_reason(exc)
    key = _OS_MSGS.get(exc.errno or 0)
    why = Msg(key) if key else Msg("method.as_said", {"text": reason})
    msg = Msg("probe.err.os", {"peer": where, "why": why})
    english = f"{where}: {lead}{reason}"
    return ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"])
