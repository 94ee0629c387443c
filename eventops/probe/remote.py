"""Probe runs through a running engine's API (``/api/v1/probe/...``).

Used by ``eventops probe accept`` when an engine serves the event: the run
then takes the engine's per-link lock, is audited under the token's user and
becomes the link's proof in the engine at once. While it runs, the engine's
``probe.progress`` events for the run are handed to ``progress``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from eventops.errors import ApiError, ProbeError


async def run_via_engine(
    url: str,
    token: str,
    path: str,
    body: dict[str, Any],
    *,
    link: str,
    progress: Callable[[dict[str, Any]], None] | None = None,
    connect_timeout: float = 10.0,
) -> dict[str, Any]:
    """POST a probe run to the engine at ``url`` and return the stored probe result.

    A refusal (403: not a technician, or the acceptance safety cap), a busy link
    (409) and a failed measurement (502) raise :class:`ProbeError`; anything
    else the engine refuses raises :class:`ApiError`.
    """
    url = url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
            ready = asyncio.Event()
            watcher = asyncio.create_task(_watch(http, url, link, progress, ready))
            try:
                # the stream's snapshot is in before the run starts (or the stream failed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), connect_timeout)
                async with http.post(f"{url}{path}", json=body) as r:
                    text = await r.text()
                    status = r.status
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    except (aiohttp.ClientError, OSError) as exc:
        raise ApiError(f"engine at {url}: {exc}") from None
    first = text.strip().splitlines()[0][:300] if text.strip() else ""
    if status in (403, 409, 502):
        raise ProbeError(f"engine at {url}: {first or status}")
    if status != 200:
        raise ApiError(f"engine at {url} refused the run: {status} {first}", status=status)
    try:
        row: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        raise ApiError(f"engine at {url}: the answer is not JSON") from None
    return row


async def _watch(
    http: aiohttp.ClientSession,
    url: str,
    link: str,
    progress: Callable[[dict[str, Any]], None] | None,
    ready: asyncio.Event,
) -> None:
    """Hand this link's ``probe.progress`` events to ``progress``; progress is best effort."""
    if progress is None:
        ready.set()
        return
    try:
        async with http.get(f"{url}/api/v1/stream") as r:
            if r.status != 200:
                return
            kind = data = ""
            async for raw in r.content:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line:
                    if kind == "snapshot":
                        ready.set()
                    elif kind == "probe.progress":
                        ev = json.loads(data)
                        if ev.get("subject") == link:
                            progress(ev.get("data", {}))
                    kind = data = ""
    except (aiohttp.ClientError, OSError, json.JSONDecodeError):
        return
    finally:
        ready.set()
