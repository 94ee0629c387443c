"""Check results and a device's health (the worst check, with a 0-1000 score)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


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
    value: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "level": self.level.label,
            "reason": self.reason,
            "value": self.value,
        }


def ok(name: str, reason: str = "ok", value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.ok, reason, value)


def warn(name: str, reason: str, value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.warning, reason, value)


def crit(name: str, reason: str, value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.critical, reason, value)


@dataclass(frozen=True)
class Health:
    level: Level
    score: int
    """0-1000: 1000 healthy; the worst check sets the band, each further problem lowers it."""
    reason: str
    checks: tuple[CheckResult, ...] = ()

    @property
    def problems(self) -> list[CheckResult]:
        return [c for c in self.checks if c.level is not Level.ok]


_BAND_SCORE = {Level.ok: 1000, Level.warning: 600, Level.critical: 200}


def health(checks: Iterable[CheckResult], *, reachable: bool = True) -> Health:
    """The worst check wins; the score sorts devices within a level."""
    items = tuple(checks)
    if not reachable:
        return Health(Level.critical, 0, "unreachable", items)
    if not items:
        return Health(Level.ok, 1000, "ok", items)
    worst = max(items, key=lambda c: c.level)
    rest = [c for c in items if c.level is not Level.ok and c is not worst]
    others = len(rest)
    deduct = sum(40 if c.level is Level.critical else 20 for c in rest)
    floor = {Level.ok: 1000, Level.warning: 301, Level.critical: 1}[worst.level]
    score = max(floor, _BAND_SCORE[worst.level] - deduct)
    reason = worst.reason if worst.level else "ok"
    if others:
        reason += f" (+{others} more)"
    return Health(worst.level, score, reason, items)
