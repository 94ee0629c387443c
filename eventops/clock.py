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
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

T = TypeVar("T")


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


async def within(clock: Clock, seconds: float, aw: Awaitable[T]) -> T:
    """Await ``aw`` but give up after ``seconds`` on ``clock`` (``TimeoutError``).

    On the system clock this is :func:`asyncio.timeout`; on any other clock
    (a test's :class:`FakeClock`) the work races a sleep on that clock, so a
    timeout fires exactly when the clock is moved past it.
    """
    if isinstance(clock, SystemClock):
        async with asyncio.timeout(max(0.0, seconds)):
            return await aw
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("within() needs a running task")
    cancelling = task.cancelling()
    fired = False
    finished = False

    def expire(timer: asyncio.Future[None]) -> None:
        nonlocal fired
        if not timer.cancelled() and not finished:
            fired = True
            task.cancel()

    start = getattr(clock, "timer", None)  # FakeClock: the deadline is set now, not a step later
    timer: asyncio.Future[None] = (
        start(seconds) if start is not None else asyncio.ensure_future(clock.sleep(seconds))
    )
    timer.add_done_callback(expire)
    try:
        # the work runs in this task (no extra task, no extra loop iterations)
        return await aw
    except asyncio.CancelledError:
        if fired and task.uncancel() <= cancelling:
            raise TimeoutError from None
        raise
    finally:
        finished = True
        timer.remove_done_callback(expire)
        timer.cancel()


class FakeClock:
    """A clock that moves only when told to.

    ``sleep`` parks the caller until :meth:`advance` moves time past its
    deadline. ``advance`` wakes sleepers in deadline order and lets each run
    before moving on, so scripted time series are deterministic.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 6, 18, 16, 0, tzinfo=UTC)
        self._t = 0.0
        self._wall = 0.0
        """How far the wall clock was set away from the monotonic one (:meth:`jump`)."""
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._t + self._wall)

    def jump(self, seconds: float) -> None:
        """Set the wall clock ``seconds`` forward (or back, if negative), as NTP or a
        person setting the time would; the monotonic clock and sleepers do not move."""
        self._wall += seconds

    def monotonic(self) -> float:
        return self._t

    def timer(self, seconds: float) -> asyncio.Future[None]:
        """A future that completes once the clock has moved ``seconds`` on from now."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + max(0.0, seconds), next(self._seq), fut))
        return fut

    async def sleep(self, seconds: float) -> None:
        await self.timer(seconds)

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

    @property
    def next_due(self) -> float | None:
        """When the earliest sleeper still waiting is due (monotonic seconds), if any."""
        due = [t for t, _, f in self._sleepers if not f.done()]
        return min(due) if due else None
