"""Supervision of the engine's background tasks: nothing stops silently.

Every long-running task the engine starts (pollers' result handling aside,
which reports through :meth:`Supervisor.failed`) runs under
:meth:`Supervisor.spawn`. A task that raises is logged with its traceback,
counted, reported to the engine (which raises an engine alert), and
restarted after a backoff on the injected clock (1 s, 2 s, 4 s … capped; the
backoff starts afresh once a run has lasted longer than the cap). A task
that returns although it should run forever is treated the same way, unless
it was spawned with ``finite=True`` (work that may be done, such as
replaying a finite source).
Cancellation is never swallowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from eventops.clock import Clock
from eventops.monitor.tasks import cancel_and_wait
from eventops.store.lease import Fenced

log = logging.getLogger(__name__)

FailureHandler = Callable[[str, BaseException], Awaitable[None]]


@dataclass
class TaskFailure:
    task: str
    error: str
    at: float
    """The clock's monotonic time of the failure."""


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        on_failure: FailureHandler | None = None,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.clock = clock
        self.on_failure = on_failure
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.restarts: Counter[str] = Counter()
        """Task name -> how often it was restarted after dying."""
        self.failures: Counter[str] = Counter()
        """Task (or handler) name -> how often it failed."""
        self.last_failure: dict[str, TaskFailure] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(
        self, name: str, work: Callable[[], Awaitable[None]], *, finite: bool = False
    ) -> asyncio.Task[None]:
        """Run ``work()`` as task ``name``, restarted whenever it dies
        (and when it returns, unless ``finite``)."""
        old = self._tasks.get(name)
        if old is not None and not old.done():
            raise RuntimeError(f"a task named {name!r} is already running")
        task = asyncio.create_task(self._keep(name, work, finite), name=name)
        self._tasks[name] = task
        return task

    async def cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            await cancel_and_wait([task])

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        await cancel_and_wait(tasks)

    @property
    def names(self) -> list[str]:
        return sorted(n for n, t in self._tasks.items() if not t.done())

    async def failed(self, name: str, exc: BaseException) -> None:
        """Count and report one failure of ``name`` (a task, or a handler that goes on)."""
        if isinstance(exc, Fenced):  # the lease is lost: the election stops every task
            log.warning("engine task %s: %s", name, exc.one_line())
            return
        log.error("engine task %s failed", name, exc_info=(type(exc), exc, exc.__traceback__))
        self.failures[name] += 1
        self.last_failure[name] = TaskFailure(
            name, f"{type(exc).__name__}: {exc}"[:300], self.clock.monotonic()
        )
        if self.on_failure is not None:
            try:
                await self.on_failure(name, exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reporting the failure of %s failed", name)

    def recent(self, within_s: float) -> list[TaskFailure]:
        """The tasks that failed within the last ``within_s`` seconds."""
        now = self.clock.monotonic()
        return [f for f in self.last_failure.values() if now - f.at <= within_s]

    async def _keep(self, name: str, work: Callable[[], Awaitable[None]], finite: bool) -> None:
        delay = self.backoff_s
        while True:
            started = self.clock.monotonic()
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.failed(name, exc)
            else:
                if finite:
                    log.info("engine task %s is done", name)
                    return
                await self.failed(name, RuntimeError(f"task {name} returned; it should not end"))
            if self.clock.monotonic() - started > self.max_backoff_s:
                delay = self.backoff_s
            await self.clock.sleep(delay)
            delay = min(delay * 2.0, self.max_backoff_s)
            self.restarts[name] += 1
            log.warning("engine task %s restarted (%d)", name, self.restarts[name])
