"""Probe runs through a running engine's API (``/api/v1/probe/...``).

Used by ``eventops probe accept`` when an engine serves the event: the run
then takes the engine's per-link lock, is audited under the token's user and
becomes the link's proof in the engine at once. While it runs, the engine's
``probe.progress`` events for the run are handed to ``progress``.
Everything goes through :class:`eventops.api.client.EngineClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from eventops.api.client import EngineClient, EngineUnreachable, Transport
from eventops.api.models import ProbeResultView
from eventops.api.routes import ROUTES
from eventops.errors import ApiError, Conflict, Forbidden, InvalidRequest, ProbeError

_PROBE_POSTS = {
    r.path: r for r in ROUTES if r.method == "POST" and r.path.startswith("/api/v1/probe/")
}


async def run_via_engine(
    url: str,
    token: str,
    path: str,
    body: dict[str, Any],
    *,
    link: str,
    progress: Callable[[dict[str, Any]], None] | None = None,
    connect_timeout: float = 10.0,
    transport: Transport | None = None,
) -> dict[str, Any]:
    """POST a probe run to the engine at ``url`` and return the stored probe result.

    A refusal (403: not a technician, or the acceptance safety cap), a busy link
    (409) and a failed measurement (502) raise :class:`ProbeError`; anything
    else the engine refuses raises :class:`ApiError` (or its domain subclass).
    """
    url = url.rstrip("/")
    route = _PROBE_POSTS.get(path)
    if route is None or route.request is None:
        raise ApiError(f"{path}: not a probe run of the engine API")
    try:
        request = route.request.model_validate(body)
    except ValueError as exc:
        raise InvalidRequest(f"{path}: {exc}".splitlines()[0]) from None
    async with EngineClient(url, token, transport=transport, timeout_s=connect_timeout) as api:
        ready = asyncio.Event()
        watcher = asyncio.create_task(_watch(api, link, progress, ready))
        try:
            # the stream's snapshot is in before the run starts (or the stream failed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), connect_timeout)
            raw = await api.call("POST", path, request, timeout_s=None)
        except EngineUnreachable as exc:
            if not exc.connected:
                raise  # the run never reached the engine
            raise ProbeError(await _lost(api, exc, path, link)) from None
        except (Forbidden, Conflict) as exc:
            raise ProbeError(f"engine at {url}: {exc.one_line()}") from None
        except ApiError as exc:
            if exc.status == 502:
                raise ProbeError(f"engine at {url}: {exc.one_line()}") from None
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    try:
        ProbeResultView.model_validate_json(raw)
    except ValueError:
        raise ApiError(f"engine at {url}: the answer is not a probe result") from None
    row: dict[str, Any] = json.loads(raw)
    return row


_RUNS = {"accept": "acceptance", "stamp": "STAMP"}


async def _lost(api: EngineClient, exc: EngineUnreachable, path: str, link: str) -> str:
    """The run's request broke off mid-way: whether the engine is there decides what we know."""
    kind = path.rsplit("/", 1)[-1]
    run = f"the {_RUNS.get(kind, kind)} run on {link}"
    where = f"GET /api/v1/probe/results?link={link}"
    if await api.alive():
        return f"{exc}; engine alive; {run} continues (its result: {where})"
    return f"{exc}; engine unreachable; {run}: state unknown until it returns (then: {where})"


async def _watch(
    api: EngineClient,
    link: str,
    progress: Callable[[dict[str, Any]], None] | None,
    ready: asyncio.Event,
) -> None:
    """Hand this link's ``probe.progress`` events to ``progress``; progress is best effort."""
    if progress is None:
        ready.set()
        return
    try:
        async for msg in api.stream_once(idle_timeout_s=None):
            if msg.type == "snapshot":
                ready.set()
            elif msg.type == "probe.progress" and msg.data.get("subject") == link:
                data = msg.data.get("data")
                if isinstance(data, dict):
                    progress(data)
    except ApiError:
        return
    finally:
        ready.set()
