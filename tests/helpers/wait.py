"""Wait until something holds, instead of sleeping a fixed time and hoping it did.

A fixed ``sleep(0.05)`` before an assertion is a timed assertion: on a loaded CI box
(2 shared cores) the state may not be there yet, and on a fast one the sleep is waste.
``eventually`` polls instead; its ``within`` is only a bound for a test that would
otherwise hang, generous on purpose, never a figure under test.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Predicate = Callable[[], bool | Awaitable[bool]]


async def eventually(
    predicate: Predicate, *, within: float = 15.0, interval: float = 0.01, what: str = ""
) -> None:
    """Return as soon as ``predicate()`` (plain or async) is true; fail after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = predicate()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"never happened within {within:g} s: {what or predicate}")
        await asyncio.sleep(interval)
