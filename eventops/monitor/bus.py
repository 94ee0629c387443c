"""The engine's event bus: every state change as an event with an increasing id.

Clients of the live stream remember the last id they saw; on reconnect they
get the events after it from the ring buffer, or — when the gap is older
than the buffer — a fresh snapshot. The ring is bounded in events and in
bytes (the size of each event's JSON, measured once when it is published):
the oldest events are dropped first. On the wire an id is ``<epoch>-<n>``:
``epoch`` names this run of the engine (ids restart at 1 with every run), so
an id from another run, one from the future, or an old plain number is
recognised as such (:meth:`EventBus.resume_point` answers None) and the
client gets a fresh snapshot instead of silence. Each event carries the authorities it
concerns, so the server can filter the stream per user without looking
inside the payload.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventops.clock import Clock


@dataclass(frozen=True)
class BusEvent:
    id: int
    ts: datetime
    type: str
    """device, link, alert, handover, maintenance, reload, silence ..."""
    subject: str
    """Device or link id (or "" for event-wide changes)."""
    scope: str
    """"device", "link" or "event": what kind of thing ``subject`` is."""
    authorities: frozenset[str]
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "type": self.type,
            "subject": self.subject,
            "scope": self.scope,
            "data": self.data,
        }


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def put(self, event: BusEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # the client must resync from a snapshot

    async def get(self) -> BusEvent:
        return await self.queue.get()

    def close(self) -> None:
        self._bus._subs.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WIRE_ID = re.compile(r"([0-9a-f]{1,32})-([0-9]{1,19})")


class EventBus:
    def __init__(
        self,
        clock: Clock,
        *,
        keep: int = 10_000,
        max_bytes: int = 8 << 20,
        epoch: str | None = None,
    ) -> None:
        self.clock = clock
        self.epoch = epoch if epoch is not None else secrets.token_hex(6)
        """This run of the engine (lowercase hex), the first part of every wire id."""
        if _WIRE_ID.fullmatch(f"{self.epoch}-0") is None:
            raise ValueError(f"epoch {self.epoch!r}: 1 to 32 lowercase hex digits")
        self.keep = keep
        self.max_bytes = max_bytes
        self._buffer: deque[BusEvent] = deque()
        self._sizes: deque[int] = deque()
        self.bytes = 0
        """The JSON size of the events kept now."""
        self.dropped = 0
        """Events dropped from the ring so far (oldest first)."""
        self._next = 1
        self._subs: set[Subscription] = set()

    @property
    def kept(self) -> int:
        return len(self._buffer)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @property
    def last_id(self) -> int:
        return self._next - 1

    def publish(
        self,
        type: str,
        subject: str,
        scope: str,
        authorities: frozenset[str] | set[str] | list[str] = frozenset(),
        data: dict[str, Any] | None = None,
    ) -> BusEvent:
        ev = BusEvent(
            self._next,
            self.clock.now(),
            type,
            subject,
            scope,
            frozenset(authorities),
            data or {},
        )
        self._next += 1
        size = len(json.dumps(ev.as_dict(), default=str, separators=(",", ":")))
        self._buffer.append(ev)
        self._sizes.append(size)
        self.bytes += size
        # the newest event is always kept, however large
        while len(self._buffer) > 1 and (
            len(self._buffer) > self.keep or self.bytes > self.max_bytes
        ):
            self._buffer.popleft()
            self.bytes -= self._sizes.popleft()
            self.dropped += 1
        for sub in list(self._subs):
            sub.put(ev)
        return ev

    def subscribe(self, maxsize: int = 5_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.add(sub)
        return sub

    def wire_id(self, event_id: int) -> str:
        """``event_id`` as the live stream writes it: ``<epoch>-<n>``."""
        return f"{self.epoch}-{event_id}"

    def resume_point(self, raw: str | None) -> int | None:
        """The event id a client's ``Last-Event-ID`` resumes after, or None when it
        cannot resume (absent, not ours, from another run, from the future)."""
        if not raw:
            return None
        found = _WIRE_ID.fullmatch(raw.strip())
        if found is None or found.group(1) != self.epoch:
            return None
        n = int(found.group(2))
        return n if n <= self.last_id else None

    def since(self, last_id: int) -> list[BusEvent] | None:
        """Events after ``last_id``, or None when some of them are no longer kept."""
        if last_id >= self.last_id:
            return []
        if not self._buffer or self._buffer[0].id > last_id + 1:
            return None
        return [e for e in self._buffer if e.id > last_id]

    def __iter__(self) -> Iterator[BusEvent]:
        return iter(list(self._buffer))
