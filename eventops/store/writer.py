"""The group-committing writer loop both stores run in their one writer task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from eventops.errors import StoreError


class Pending(Protocol):
    """A queued write: whoever queued it awaits ``future``."""

    future: asyncio.Future[Any]


P = TypeVar("P", bound=Pending)


async def group_commit_loop(
    queue: asyncio.Queue[P | None],
    commit_group: Callable[[list[P]], Awaitable[None]],
    where: str,
    max_group: int,
) -> None:
    """Take what is queued, up to ``max_group`` writes at a time, and commit each group
    together; ``None`` in the queue stops the loop after the writes before it, and
    whatever arrived after it is refused (the store is closed)."""
    stop = False
    while not stop:
        first = await queue.get()
        if first is None:
            break
        group = [first]
        while len(group) < max_group and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                stop = True
                break
            group.append(nxt)
        await commit_group(group)
    while not queue.empty():
        p = queue.get_nowait()
        if p is not None and not p.future.done():
            p.future.set_exception(StoreError(f"{where}: store closed"))
