"""The live stream (``GET /api/v1/stream``): Server-Sent Events whose ids are
``<epoch>-<n>`` (the engine run and its event id); see :func:`stream`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from eventops.engine import alert_view
from eventops.monitor.tasks import cancel_and_wait
from eventops.server.auth import View, current_user, still_valid, view_of
from eventops.server.common import HEARTBEAT_S, STREAMS, engine_of

log = logging.getLogger(__name__)


def snapshot(view: View) -> dict[str, Any]:
    engine = view.engine
    now = engine.clock.now()
    return {
        "devices": [engine.device_view(d) for d in engine.devices if d in view.devices],
        "links": [engine.link_view(lk) for lk in engine.links if lk in view.links],
        "alerts": [
            alert_view(a, silenced=engine.alerts.silenced(a, now))
            for a in engine.alerts.open_alerts()
            if view.sees(a.subject)
        ],
    }


def _sse(wire_id: str, kind: str, data: str) -> bytes:
    return f"id: {wire_id}\nevent: {kind}\ndata: {data}\n\n".encode()


KEEP_ALIVE = b": keep-alive\n\n"


async def open_stream(
    request: web.Request,
) -> tuple[web.StreamResponse, asyncio.Task[Any] | None]:
    """Send an event stream's headers and register the handler's task in the app's
    ``STREAMS`` (so shutdown ends it); the caller removes it when done. The task is None
    when the client hung up before the headers: there is nothing more to do."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await resp.prepare(request)
    except ConnectionResetError:
        return resp, None  # aiohttp logs no error for it
    task = asyncio.current_task()
    assert task is not None
    request.app[STREAMS].add(task)
    return resp, task


async def stream(request: web.Request) -> web.StreamResponse:
    """The live stream. Ids are ``<epoch>-<n>`` (see :class:`~eventops.monitor.bus.EventBus`):
    a ``Last-Event-ID`` of this run gets the gap (or a snapshot when the gap is no
    longer kept); any other (another run, the future, a plain number) a snapshot.
    Every connection gets a keep-alive comment when nothing was written *to it* for
    the heartbeat interval, whatever the other clients receive."""
    current_user(request)
    engine = engine_of(request)
    bus = engine.bus
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    resp, task = await open_stream(request)
    if task is None:
        return resp
    heartbeat = request.app[HEARTBEAT_S]
    loop = asyncio.get_running_loop()
    written = loop.time()

    async def write(chunk: bytes) -> None:
        nonlocal written
        await resp.write(chunk)
        written = loop.time()

    try:
        with bus.subscribe() as sub:
            view = view_of(request)
            point = bus.resume_point(last)
            backlog = bus.since(point) if point is not None else None
            if backlog is None:
                snap_id = bus.last_id
                await write(_sse(bus.wire_id(snap_id), "snapshot", view.dumps(snapshot(view))))
                # events already in the queue up to the snapshot are in it
                drop_upto = snap_id
            else:
                for ev in backlog:
                    if view.sees_event(ev.scope, ev.subject, ev.authorities):
                        await write(_sse(bus.wire_id(ev.id), ev.type, view.dumps(ev.as_dict())))
                drop_upto = backlog[-1].id if backlog else (point or 0)
            while True:
                wait = max(0.0, written + heartbeat - loop.time())
                try:
                    ev = await asyncio.wait_for(sub.get(), timeout=wait)
                except TimeoutError:
                    if not still_valid(request):
                        break
                    await write(KEEP_ALIVE)
                    continue
                if sub.overflowed:
                    await write(_sse(bus.wire_id(ev.id), "resync", "{}"))
                    break
                if ev.id <= drop_upto:
                    continue
                if ev.type == "reload":
                    if not still_valid(request):
                        break  # token revoked by the reload
                    view = view_of(request)
                if view.sees_event(ev.scope, ev.subject, ev.authorities):
                    await write(_sse(bus.wire_id(ev.id), ev.type, view.dumps(ev.as_dict())))
    except ConnectionResetError:
        log.debug("stream client %s went away", request.remote)
    finally:
        request.app[STREAMS].discard(task)
    return resp


async def close_streams(app: web.Application) -> None:
    streams: set[asyncio.Task[Any]] = app[STREAMS]
    tasks = [*streams]
    streams.clear()
    await cancel_and_wait(tasks)
