"""The engines that serve the event under its lease: who is active, who stands by."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from eventops.api.models.common import ResponseModel

EngineRole = Literal["active", "standby", "deposed", "stopped"]


class EnginePresenceView(ResponseModel):
    """One engine process of the event, as its last heartbeat recorded it."""

    holder: str
    """The engine process's id (new at every start)."""
    address: str
    """Where it answers (its ``--advertise`` address)."""
    role: EngineRole
    started_at: datetime
    """Its first heartbeat (the database server's clock)."""
    seen_at: datetime
    """Its last heartbeat (the database server's clock)."""
    age_s: float
    """Seconds since its last heartbeat, as of this answer."""
    live: bool
    """Seen within ``absent_after_s``: it still serves."""
    this: bool
    """The engine that answers this request."""


class EnginesView(ResponseModel):
    """This engine's role and every engine of the event that the database knows."""

    role: Literal["single", "active", "standby", "deposed"]
    """``single``: no leader lease (an SQLite store without ``--lease``): no standby."""
    address: str | None
    """This engine's address in the lease (None for ``single``)."""
    active: str | None
    """The active engine's address, when known."""
    standby: Literal["auto", "required", "off"]
    """The profile's ``[store] standby``: when a missing standby is alerted."""
    standby_expected: bool
    """The event expects a standby (see ``standby``)."""
    standby_live: bool
    """Another engine stands by right now."""
    absent_after_s: float | None
    """A standby not seen for longer than this is gone (three lease ttls)."""
    as_of: datetime | None
    """When this engine's last heartbeat was answered (None: none yet, or ``single``)."""
    engines: list[EnginePresenceView]
