"""Check results and a device's health (the worst check, with a 0-1000 score)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from enum import IntEnum
from typing import Any

from eventops.i18n import MESSAGES, Msg


class Level(IntEnum):
    ok = 0
    warning = 1
    critical = 2

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class CheckResult:
    name: str
    """Stable check name, e.g. ``radio.5g.channel`` or ``rx_power.a``."""
    level: Level
    reason: str
    """The English text (what scripts read)."""
    value: float | None = None
    msg_id: str | None = None
    """The message id clients render in their language (:mod:`eventops.i18n`)."""
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The message's parameters (JSON-able; nested messages as dicts)."""

    @property
    def msg(self) -> Msg | None:
        return Msg(self.msg_id, self.params) if self.msg_id else None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "level": self.level.label,
            "reason": self.reason,
            "value": self.value,
            "msg_id": self.msg_id,
            "params": dict(self.params),
        }


def result(
    name: str,
    level: Level,
    msg_id: str,
    value: float | None = None,
    *,
    tz: tzinfo = UTC,
    **params: Any,
) -> CheckResult:
    """A check result from a catalogue message; the English reason is rendered from it.

    A ``msg_id`` that is not in the catalogue is taken as a plain English reason
    without a message id (for callers outside eventops; a unit test keeps every
    call in eventops on catalogue ids)."""
    if msg_id not in MESSAGES:
        return CheckResult(name, level, msg_id, value)
    m = Msg(msg_id, params)
    return CheckResult(name, level, m.text("en", tz), value, msg_id, m.as_dict()["params"])


def ok(
    name: str, msg_id: str = "check.ok", value: float | None = None, **params: Any
) -> CheckResult:
    return result(name, Level.ok, msg_id, value, **params)


def warn(name: str, msg_id: str, value: float | None = None, **params: Any) -> CheckResult:
    return result(name, Level.warning, msg_id, value, **params)


def crit(name: str, msg_id: str, value: float | None = None, **params: Any) -> CheckResult:
    return result(name, Level.critical, msg_id, value, **params)


@dataclass(frozen=True)
class Health:
    level: Level
    score: int
    """0-1000: 1000 healthy; the worst check sets the band, each further problem lowers it."""
    reason: str
    checks: tuple[CheckResult, ...] = ()
    msg: Msg | None = None
    """The reason as a message (clients render it in their language)."""

    @property
    def problems(self) -> list[CheckResult]:
        return [c for c in self.checks if c.level is not Level.ok]


_BAND_SCORE = {Level.ok: 1000, Level.warning: 600, Level.critical: 200}
_OK = Msg("check.ok")


def health(checks: Iterable[CheckResult], *, reachable: bool = True) -> Health:
    """The worst check wins; the score sorts devices within a level."""
    items = tuple(checks)
    if not reachable:
        return Health(Level.critical, 0, "unreachable", items, Msg("health.unreachable"))
    if not items:
        return Health(Level.ok, 1000, "ok", items, _OK)
    worst = max(items, key=lambda c: c.level)
    rest = [c for c in items if c.level is not Level.ok and c is not worst]
    others = len(rest)
    deduct = sum(40 if c.level is Level.critical else 20 for c in rest)
    floor = {Level.ok: 1000, Level.warning: 301, Level.critical: 1}[worst.level]
    score = max(floor, _BAND_SCORE[worst.level] - deduct)
    reason = worst.reason if worst.level else "ok"
    msg = (worst.msg if worst.level else _OK) or None
    if others:
        reason += f" (+{others} more)"
        if msg is not None:
            msg = Msg("health.more", {"reason": msg.as_dict(), "n": others})
    return Health(worst.level, score, reason, items, msg)
