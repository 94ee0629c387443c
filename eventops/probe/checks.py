"""Range checks shared by the probe's entry points: one-line :class:`ProbeError`s."""

from __future__ import annotations

import errno
import math
import os

from eventops.errors import ProbeError, ProbeParamError
from eventops.i18n import Msg, refusal


def check_port(port: object, what: str = "port", *, listen: bool = False) -> int:
    """A TCP/UDP port: 1..65535 to connect to; 0..65535 to listen on (0: kernel's pick)."""
    lo = 0 if listen else 1
    if isinstance(port, bool) or not isinstance(port, int) or not lo <= port <= 65535:
        shown = port if isinstance(port, int | float | str) else repr(port)
        msg = Msg("probe.range.port", {"what": what, "port": shown, "lo": lo})
        raise refusal(ProbeParamError, msg)
    return port


def check_seconds(value: float | None, what: str, lo: float, hi: float) -> None:
    """``lo < value <= hi`` (None passes: no limit)."""
    if value is None:
        return
    if not isinstance(value, int | float) or not math.isfinite(value) or not lo < value <= hi:
        msg = Msg("probe.range.seconds", {"what": what, "value": value, "lo": lo, "hi": hi})
        raise refusal(ProbeParamError, msg)


def check_interval(value: float) -> None:
    """A progress interval: at least 10 ms (so progress lines cannot flood), at most 1 h."""
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0.01 <= value <= 3600:
        raise refusal(ProbeParamError, Msg("probe.range.interval", {"value": value}))


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
    errno.ENOENT: "probe.os.no_file",
    errno.EISDIR: "probe.os.is_dir",
    errno.ENOSPC: "probe.os.no_space",
    errno.EROFS: "probe.os.read_only",
    errno.EADDRINUSE: "probe.os.in_use",
}


def os_why(exc: OSError, reason: str | None = None) -> Msg:
    """The kernel's reason as a message: ours for the common ones, else ``reason`` (or
    :func:`os_reason`) as it is."""
    key = _OS_MSGS.get(exc.errno or 0)
    return Msg(key) if key else Msg("method.as_said", {"text": reason or os_reason(exc)})


def os_failure(
    where: str, exc: OSError, lead: str = "", *, named: Msg | None = None, said: Msg | None = None
) -> ProbeError:
    """``{where}: {lead}{the kernel's reason}`` as a ProbeError that also carries the
    reason as a message (eventops.i18n), for the common reasons in other languages;
    ``named``: ``where`` as a message, ``said``: ``lead`` and the reason as one."""
    reason = os_reason(exc)
    why = said or os_why(exc, reason)
    msg = Msg("probe.err.os", {"peer": named or where, "why": why})
    english = f"{where}: {lead}{reason}"
    return ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"])


def listen_failure(what: str, host: str, port: int, exc: OSError) -> ProbeError:
    """``{what} cannot listen on {host}:{port}: {reason}`` (``what``: sink, reflector)."""
    reason = str(exc.strerror or exc)
    msg = Msg(
        "probe.err.listen", {"what": what, "addr": f"{host}:{port}", "why": os_why(exc, reason)}
    )
    english = f"{what} cannot listen on {host}:{port}: {reason}"
    return ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"])
