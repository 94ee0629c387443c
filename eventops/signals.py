"""Stopping on SIGINT and SIGTERM: a long-running command installs :class:`StopSignals`
*before* it tells anyone it is up, so a signal sent right after never finds the default
action (death without a summary, or nothing at all for a background job's ignored
SIGINT: the handler installed here replaces the SIG_IGN a shell gives it)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from types import TracebackType

STOP = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT/SIGTERM set :attr:`got` (the first signal's name); optional SIGHUP callback."""

    def __init__(self, on_hup: Callable[[], None] | None = None) -> None:
        self.on_hup = on_hup
        self.got: str | None = None
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on(self, sig: signal.Signals) -> None:
        if self.got is None:
            self.got = sig.name
        self._stop.set()

    def __enter__(self) -> StopSignals:
        return self.install()

    def install(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in STOP:
            self._loop.add_signal_handler(sig, self._on, sig)
        if self.on_hup is not None:
            self._loop.add_signal_handler(signal.SIGHUP, self.on_hup)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        if self._loop is None:
            return
        for sig in (*STOP, signal.SIGHUP):
            self._loop.remove_signal_handler(sig)
        self._loop = None

    async def wait(self) -> str:
        """Until a stop signal; its name."""
        await self._stop.wait()
        assert self.got is not None
        return self.got

    async def run(self, work: Awaitable[None]) -> str | None:
        """``work`` until it ends (None; its exception raised) or a stop signal cancels
        it (the signal's name)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (waiter, task):
                if not t.done():
                    t.cancel()
            await asyncio.wait({task, waiter})
        if self.got is None:
            task.result()  # its exception, if it failed
        return self.got
