"""The one mapping from domain errors to HTTP responses.

Nothing below :mod:`eventops.server` knows an HTTP status: the engine and its
services raise the :mod:`eventops.errors` tree, and :func:`error_middleware`
turns every error into one JSON body::

    {"error": {"code": "not_found", "message": "no link 'x' in the profile", ...details}}

``code`` is stable and machine-readable; ``message`` is one line for a
person (redacted like every answer for an authority); details depend on the
class (a :class:`~eventops.errors.ConfirmationNeeded` adds ``confirm``, the
text to type, and ``reasons``; provisioning's adds ``dangerous``; an
:class:`~eventops.errors.InvalidRequest` may name the ``field``). An error that
carries its message as an id of :mod:`eventops.i18n` adds ``msg_id`` and ``params``,
so that clients show it in their reader's language. The body is
:class:`eventops.api.models.ErrorBody`.

=======================================  ======  ====================
error                                    status  code
=======================================  ======  ====================
InvalidRequest (and bad bodies/queries)  400     invalid
NotAuthenticated                         401     unauthenticated
Forbidden                                403     forbidden
NotFound (and unknown routes)            404     not_found
Conflict, ConfirmationNeeded,            409     conflict, confirmation_needed,
NotSupported                                     not_supported
Unsupported (the device refused a verb)  409     not_supported
ProfileError (a reload refused)          409     profile_invalid
ProvisioningError, WallError             409     provisioning_failed, wall_error
DeviceError                              502     device
ProbeParamError (a parameter's range)    400     invalid
ProbeError                               502     probe
Unavailable, StoreError                  503     unavailable
=======================================  ======  ====================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from eventops.errors import (
    Conflict,
    DeviceError,
    EventOpsError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ProbeError,
    ProbeParamError,
    ProfileError,
    ProvisioningError,
    RequestError,
    StoreError,
    Unavailable,
    Unsupported,
    WallError,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Redactor = Callable[[web.Request, str], str]

_REQUEST_STATUS: tuple[tuple[type[RequestError], int], ...] = (
    (InvalidRequest, 400),
    (NotAuthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)

_OTHER: tuple[tuple[type[EventOpsError], int, str], ...] = (
    (Unsupported, 409, "not_supported"),
    (DeviceError, 502, "device"),
    (ProbeParamError, 400, "invalid"),
    (ProbeError, 502, "probe"),
    (ProfileError, 409, "profile_invalid"),
    (ProvisioningError, 409, "provisioning_failed"),
    (WallError, 409, "wall_error"),
    (StoreError, 503, "unavailable"),
)

_HTTP_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
}


def status_of(exc: EventOpsError) -> tuple[int, str]:
    """The HTTP status and error code of a domain error."""
    if isinstance(exc, RequestError):
        for cls, status in _REQUEST_STATUS:
            if isinstance(exc, cls):
                return status, exc.code
        return 400, exc.code
    for ocls, status, code in _OTHER:
        if isinstance(exc, ocls):
            return status, code
    return 409, "refused"


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def error_response(
    status: int, body: dict[str, Any], *, redact: Callable[[str], str] | None = None
) -> web.Response:
    text = json.dumps(body, ensure_ascii=False, default=str)
    if redact is not None:
        text = redact(text)
    headers = {"WWW-Authenticate": 'Bearer realm="eventops"'} if status == 401 else None
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def error_middleware(redactor: Redactor) -> Any:
    """The middleware; ``redactor`` hides what the caller may not see in a message."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except EventOpsError as exc:
            status, code = status_of(exc)
            details = exc.details() if isinstance(exc, RequestError) else {}
            if exc.msg_id is not None:  # the message for the reader's language
                details = {**details, "msg_id": exc.msg_id, "params": dict(exc.params)}
            body = error_body(code, exc.one_line(), **details)
            return error_response(status, body, redact=lambda t: redactor(request, t))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # aiohttp's own refusals (no such route, wrong method, body too large)
            text = (exc.text or "").strip()
            message = exc.reason if not text or text.startswith(str(exc.status)) else text
            code = _HTTP_CODES.get(exc.status, "error")
            resp = error_response(exc.status, error_body(code, message))
            if "Allow" in exc.headers:
                resp.headers["Allow"] = exc.headers["Allow"]
            return resp

    return middleware
