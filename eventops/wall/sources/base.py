"""The source interface.

A source polls its service and hands back a :class:`Batch`: normalised posts
and deletions, plus the cursor that is safe to store once those items are
handled. Iterating a source (``async for item in source``) polls, yields each
item, stores the cursor only after the consumer came back for the next item
(so a crash never skips a post), then sleeps the poll interval on the
injected clock. A restart reads the cursor and carries on without gaps or
repeats.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.store.base import Store
from eventops.wall.normalize import Deletion, NormalPost

log = logging.getLogger(__name__)

Item = NormalPost | Deletion


@dataclass
class Batch:
    items: list[Item] = field(default_factory=list)
    cursor: str | None = None
    """Store this once the items are handled; None: nothing to store."""
    done: bool = False
    """The source has nothing more to give (a replay that does not loop)."""


class PostSource(ABC):
    """One configured source of posts."""

    name: str
    interval_s: float = 15.0

    def __init__(self, name: str, store: Store, clock: Clock) -> None:
        self.name = name
        self.store = store
        self.clock = clock

    @property
    def cursor_name(self) -> str:
        return f"wall:{self.name}"

    async def load_cursor(self) -> str | None:
        return await self.store.get_cursor(self.cursor_name)

    async def commit(self, batch: Batch) -> None:
        """Store the batch's cursor: call only after every item was handled."""
        if batch.cursor is not None:
            await self.store.set_cursor(self.cursor_name, batch.cursor)

    @abstractmethod
    async def poll(self, *, wait: bool = True) -> Batch:
        """One poll cycle. ``wait=False``: do not wait for anything scheduled."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; sources without any keep the default."""

    async def __aiter__(self) -> AsyncIterator[Item]:
        while True:
            try:
                batch = await self.poll()
            except WallError as exc:
                log.warning("wall source %s: %s", self.name, exc.one_line())
                await self.clock.sleep(self.interval_s)
                continue
            for item in batch.items:
                yield item
            await self.commit(batch)
            if batch.done:
                return
            if self.interval_s > 0:
                await self.clock.sleep(self.interval_s)
