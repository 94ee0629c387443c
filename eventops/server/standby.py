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
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from eventops.engine.standby import Election
from eventops.server.errors import Handler, error_body, error_response

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
