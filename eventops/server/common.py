"""What the server's route modules share: the request-body parser, the stream registry key,
the mount hook type. Its own module so that :mod:`eventops.server.app` can mount the route
modules without an import cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from eventops.errors import InvalidRequest

STREAMS = web.AppKey("eventops_streams", set[asyncio.Task[Any]])
"""The live SSE/WebSocket responders, cancelled on shutdown."""

Extension = Callable[[web.Application], None]

M = TypeVar("M", bound=BaseModel)


async def body_of(request: web.Request, model: type[M]) -> M:
    """The request's JSON body parsed by ``model`` (one of :mod:`eventops.api.models`:
    strict, closed, finite); InvalidRequest names what is wrong."""
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid" or not raw.strip():
            raise InvalidRequest("request body is not JSON") from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{where}: {first['msg']}", field=where) from None
