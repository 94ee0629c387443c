"""Injectable clocks.

Everything time-dependent (pollers, alert tolerances, rate-limit retries,
session expiry in simulators) takes a :class:`Clock`. Production code uses
:class:`SystemClock`; tests drive :class:`FakeClock` by hand.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to.

    ``sleep`` parks the caller until :meth:`advance` moves time past its
    deadline. ``advance`` wakes sleepers in deadline order and lets each run
    before moving on, so scripted time series are deterministic.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 6, 18, 16, 0, tzinfo=UTC)
        self._t = 0.0
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._t)

    def monotonic(self) -> float:
        return self._t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + max(0.0, seconds), next(self._seq), fut))
        await fut

    async def advance(self, seconds: float, *, settle: int = 5) -> None:
        """Move time forward by ``seconds``, waking every sleeper due on the way."""
        target = self._t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, fut = heapq.heappop(self._sleepers)
            self._t = max(self._t, due)
            if not fut.done():
                fut.set_result(None)
            for _ in range(settle):
                await asyncio.sleep(0)
        self._t = target
        for _ in range(settle):
            await asyncio.sleep(0)

    @property
    def pending(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())
