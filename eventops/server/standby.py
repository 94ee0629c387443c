"""The API of an engine that runs under an election (:mod:`eventops.engine.standby`).

:func:`election_extension` (an extension of :func:`eventops.server.app.create_app`):

- starts the election with the app (the engine starts as a standby) and stops it
  with the app (an active engine releases its lease);
- every answer names the engine's role and, when known, the active engine:
  ``X-Eventops-Role: active|standby|deposed`` and ``X-Eventops-Active: URL``,
  so that clients given several addresses follow the active one
  (:mod:`eventops.api.client_failover`);
- a write (any method but GET, HEAD, OPTIONS) to an engine that is not active is
  answered ``503`` with the server's JSON error body (code ``unavailable``, the
  active engine's address as ``active``), ``X-Eventops-Active`` and
  ``Retry-After``; reads, the status page and the stream are served as usual.

``GET /api/v1/engines`` (:func:`engines`, technicians; mounted by
:func:`~eventops.server.app.create_app` with or without an election) shows this
engine's role and every engine of the event its last presence heartbeat saw
(:mod:`eventops.store.presence`), with role, address and age.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web

from eventops.api import models as m
from eventops.engine import presence as _presence
from eventops.engine.standby import Election
from eventops.profile.models import Role
from eventops.server.auth import require, respond
from eventops.server.common import engine_of
from eventops.server.errors import Handler, error_body, error_response
from eventops.store.presence import Presence

ELECTION = web.AppKey("eventops_election", Election)
ROLE_HEADER = "X-Eventops-Role"
ACTIVE_HEADER = "X-Eventops-Active"
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def election_extension(election: Election) -> Any:
    """The extension for ``create_app(..., manage_engine=False, extensions=[...])``."""

    def extend(app: web.Application) -> None:
        app[ELECTION] = election
        app.middlewares.append(_standby_writes)
        app.on_response_prepare.append(_role_headers)
        app.cleanup_ctx.append(_run_election)

    return extend


def active_url(election: Election) -> str | None:
    return election.address if election.active else election.active_address


async def _run_election(app: web.Application) -> AsyncIterator[None]:
    election = app[ELECTION]
    await election.start()
    try:
        yield
    finally:
        await election.stop()


async def _role_headers(request: web.Request, response: web.StreamResponse) -> None:
    election = request.app[ELECTION]
    response.headers[ROLE_HEADER] = election.role.value
    active = active_url(election)
    if active:
        response.headers[ACTIVE_HEADER] = active


@web.middleware
async def _standby_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    election = request.app[ELECTION]
    if request.method in READS or election.active:
        return await handler(request)
    active = active_url(election)
    if active:
        message = (
            f"this engine is not the active one ({election.role.value}): "
            f"the active engine answers at {active}"
        )
    else:
        message = (
            f"this engine is not the active one ({election.role.value}) and no engine holds "
            "the event's lease yet; try again shortly"
        )
    resp = error_response(503, error_body("unavailable", message, active=active))
    resp.headers["Retry-After"] = str(max(1, math.ceil(election.renew_s)))
    return resp


# -- the engines of the event ---------------------------------------------------------------------


def seen_engines(election: Election, monotonic: float) -> list[tuple[Presence, float, bool]]:
    """The engines of the election's last heartbeat, each with its age now (seconds, on the
    engine's clock since the heartbeat, added to the age the database gave) and whether it
    is live: active or standing by, seen within ``absent_after_s``. Empty before the first
    heartbeat was answered."""
    snap = election.presence
    if snap is None:
        return []
    elapsed = max(0.0, monotonic - election.presence_at)
    out = []
    for e in snap.engines:
        age = e.age_s + elapsed
        out.append((e, age, e.role in ("active", "standby") and age <= election.absent_after_s))
    return out


async def engines(request: web.Request) -> web.Response:
    """``GET /api/v1/engines``: see the module's docstring."""
    require(request, Role.technician)
    engine = engine_of(request)
    election = request.app.get(ELECTION)
    mode = engine.profile.store.standby
    if election is None:
        value: dict[str, Any] = {
            "role": "single",
            "address": None,
            "active": None,
            "standby": mode,
            "standby_expected": False,
            "standby_live": False,
            "absent_after_s": None,
            "as_of": None,
            "engines": [],
        }
        return respond(request, m.EnginesView, value=value)
    snap = election.presence
    now = engine.clock.monotonic()
    elapsed = max(0.0, now - election.presence_at)
    rows = [
        {
            "holder": e.holder,
            "address": e.address,
            "role": e.role,
            "started_at": e.started_at,
            "seen_at": e.seen_at,
            "age_s": round(age, 3),
            "live": live,
            "this": e.mine,
        }
        for e, age, live in seen_engines(election, now)
    ]
    value = {
        "role": election.role.value,
        "address": election.address,
        "active": active_url(election),
        "standby": mode,
        "standby_expected": snap is not None and _presence.expects_standby(snap, mode),
        "standby_live": any(r["live"] and r["role"] == "standby" and not r["this"] for r in rows),
        "absent_after_s": election.absent_after_s,
        "as_of": None if snap is None else engine.clock.now() - timedelta(seconds=elapsed),
        "engines": rows,
    }
    return respond(request, m.EnginesView, value=value)
