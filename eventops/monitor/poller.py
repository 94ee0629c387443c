"""Pollers: one task per device that reschedules itself after each poll.

Polls of one device never overlap (the next is scheduled when the last has
finished); a semaphore bounds how many devices are polled at once across
the fleet; a device that fails is retried with backoff (interval, 2x, 4x,
capped), and is reported as failed on its first failed poll so that it
shows unreachable within two intervals of going silent.

Timeouts are per request: the driver gives each request to the device its
own ``timeout_s`` on the injected clock and names the request that got no
answer. Opening the driver (login, RESTCONF discovery: done once and cached
by the driver) is a step of its own before the poll, so a first poll after
an engine start is not slower than any other. A whole-poll deadline
(``poll_deadline_s``, by default the interval or ten request timeouts,
whichever is longer) only catches a driver that hangs between requests.

The poll loop never dies of one bad result: a result handler that raises
(or a driver that fails in a way no adapter should) is logged with its
traceback and reported through ``on_error`` (the engine counts it and raises
an engine alert), and the device keeps its schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from eventops.adapters.base import DeviceDriver, DeviceStatus
from eventops.clock import Clock, within
from eventops.errors import (
    AuthenticationFailed,
    DeviceError,
    DeviceTimeout,
    DeviceUnreachable,
    PermissionDenied,
    ProtocolError,
)
from eventops.i18n import Msg
from eventops.monitor.tasks import cancel_and_wait

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class PollResult:
    device: str
    started: datetime
    duration_s: float
    status: DeviceStatus | None = None
    error: str = ""
    failures: int = 0
    """Consecutive failed polls, this one included."""
    error_msg: Msg | None = None
    """Why it failed, as a catalogue message (``error`` is the English detail)."""

    @property
    def ok(self) -> bool:
        return self.status is not None


ResultHandler = Callable[[PollResult], Awaitable[None]]
ErrorHandler = Callable[[str, BaseException], Awaitable[None]]
"""Called with the poller's task name and the exception; must not raise."""
Spawner = Callable[[str, Callable[[], Awaitable[None]]], "asyncio.Task[None]"]
"""Starts the poll loop as a named task (the engine's supervisor restarts it if it dies)."""


class DevicePoller:
    def __init__(
        self,
        device_id: str,
        driver: DeviceDriver,
        *,
        interval_s: float,
        timeout_s: float,
        clock: Clock,
        limit: asyncio.Semaphore,
        on_result: ResultHandler,
        max_backoff: float = 4.0,
        first_delay: float = 0.0,
        on_error: ErrorHandler | None = None,
        poll_deadline_s: float | None = None,
    ) -> None:
        self.device_id = device_id
        self.driver = driver
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        """The timeout of each request (the driver applies it); used here only for the deadline."""
        self.poll_deadline_s = (
            poll_deadline_s if poll_deadline_s is not None else max(interval_s, 10 * timeout_s)
        )
        """A backstop for a driver that hangs between requests, not a budget for the poll."""
        self.clock = clock
        self.limit = limit
        self.on_result = on_result
        self.max_backoff = max_backoff
        self.first_delay = first_delay
        """Wait this long before the first poll (spreads a fleet's polls over the interval)."""
        self.on_error = on_error
        self.failures = 0
        self.polls = 0
        self.handler_failures = 0
        """Results whose handler raised (the device was polled on regardless)."""
        self._open = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.sleeping = False
        """True while waiting for the next slot (no poll in flight)."""
        self.awaiting_device = False
        """True while a poll waits for the device's answer (or its timeout)."""

    def start(self, spawn: Spawner | None = None) -> None:
        if self._task is None:
            if spawn is not None:
                self._task = spawn(self.task_name, self.run)
            else:
                self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        await self._close()

    async def run(self) -> None:
        if self.first_delay > 0:
            await self._sleep(self.first_delay)
        while True:
            t0 = self.clock.monotonic()
            result = await self.poll_once()
            try:
                await self.on_result(result)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.handler_failures += 1
                await self._report(exc)
            elapsed = self.clock.monotonic() - t0
            await self._sleep(max(0.0, self.next_delay() - elapsed))

    @property
    def task_name(self) -> str:
        return f"poll:{self.device_id}"

    async def _report(self, exc: Exception) -> None:
        if self.on_error is None:
            log.error("%s: handling a poll result failed", self.device_id, exc_info=exc)
            return
        try:
            await self.on_error(self.task_name, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: reporting a failure failed", self.device_id)

    def wake(self) -> None:
        """Poll now rather than at the next slot, and forget the backoff
        (e.g. the fibre link this device hangs off just came back)."""
        self.failures = 0
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        self.sleeping = True
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.sleeping = False
            sleeper.cancel()
            waker.cancel()
            self._wake.clear()

    def next_delay(self) -> float:
        if not self.failures:
            return self.interval_s
        return self.interval_s * min(2.0 ** (self.failures - 1), self.max_backoff)

    async def poll_once(self) -> PollResult:
        started = self.clock.now()
        t0 = self.clock.monotonic()
        self.polls += 1
        async with self.limit:
            step = "poll"
            try:
                if not self._open:
                    step = "login and discovery"
                    await self._with_deadline(self.driver.open())
                    self._open = True
                    step = "poll"
                t1 = self.clock.monotonic()
                status = await self._with_deadline(self.driver.status())
                if status.mono is None:  # the driver did not say when it read the counters
                    t2 = self.clock.monotonic()
                    status = status.model_copy(
                        update={"ts": self.clock.now(), "mono": t2, "read_s": t2 - t1}
                    )
            except DeviceError as exc:
                return await self._failed(started, t0, exc.message, _why(exc))
            except TimeoutError:
                return await self._failed(
                    started,
                    t0,
                    f"{step} not finished within {self.poll_deadline_s:g} s "
                    f"(no single request timed out)",
                    Msg("poll.timeout", {"s": self.poll_deadline_s}),
                )
            except (OSError, ValueError) as exc:
                log.warning("%s: poll failed: %r", self.device_id, exc)
                return await self._failed(
                    started, t0, f"{type(exc).__name__}: {exc}", Msg("poll.failed")
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a driver bug: the device stays on its schedule
                await self._report(exc)
                return await self._failed(
                    started, t0, f"internal error: {type(exc).__name__}", Msg("poll.failed")
                )
        self.failures = 0
        return PollResult(self.device_id, started, self.clock.monotonic() - t0, status=status)

    async def _with_deadline(self, coro: Awaitable[T]) -> T:
        """Await ``coro`` but give up after ``poll_deadline_s`` on the injected clock."""
        self.awaiting_device = True
        try:
            return await within(self.clock, self.poll_deadline_s, coro)
        finally:
            self.awaiting_device = False

    async def _failed(
        self, started: datetime, t0: float, error: str, why: Msg | None = None
    ) -> PollResult:
        self.failures += 1
        await self._close()
        return PollResult(
            self.device_id,
            started,
            self.clock.monotonic() - t0,
            error=error,
            failures=self.failures,
            error_msg=why,
        )

    async def _close(self) -> None:
        # also after a failed open(): the driver may hold a half-made session
        self._open = False
        try:
            await self.driver.close()
        except (DeviceError, OSError) as exc:
            log.debug("%s: close failed: %r", self.device_id, exc)


def _why(exc: DeviceError) -> Msg:
    """A device error as a message a client shows in its language (the English
    detail, with URLs and the device's own words, stays in ``PollResult.error``)."""
    if isinstance(exc, DeviceTimeout):
        return Msg("poll.no_answer")
    if isinstance(exc, DeviceUnreachable):
        return Msg("poll.no_connection")
    if isinstance(exc, AuthenticationFailed):
        return Msg("poll.auth")
    if isinstance(exc, PermissionDenied):
        return Msg("poll.denied")
    if isinstance(exc, ProtocolError):
        return Msg("poll.protocol")
    return Msg("poll.failed")
