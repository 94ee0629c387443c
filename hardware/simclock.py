"""A clock for simulators run by hand: system time plus a skip offset.

``eventops sim`` uses it so that the control API can move simulated time
forward (expire sessions, fire rollback timers, age optics) while the
devices keep running in real time otherwise. Tests use
:class:`eventops.clock.FakeClock` instead; both have ``advance``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SkipClock:
    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def advance(self, seconds: float) -> None:
        """Jump forward by ``seconds``."""
        self._offset += max(0.0, seconds)
