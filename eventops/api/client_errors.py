"""The engine client's errors: an error answer mapped to the domain class of :mod:`eventops.errors`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from eventops.api import models as m
from eventops.errors import (
    ApiError,
    ConfirmationNeeded,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    RequestError,
    Unavailable,
)

# -- errors as the client raises them -------------------------------------------------------


class EngineUnreachable(ApiError):
    """No answer from the engine: refused, unresolvable, timed out, dropped, TLS failed."""

    title = "Engine unreachable"

    def __init__(self, base_url: str, reason: str, *, connected: bool = False) -> None:
        self.base_url = base_url
        self.reason = reason
        self.connected = connected
        """The connection was made (a request may have reached the engine) before it failed."""
        super().__init__(f"cannot reach the engine at {base_url}: {reason}")


class RemoteInvalidRequest(InvalidRequest, ApiError):
    pass


class RemoteNotAuthenticated(NotAuthenticated, ApiError):
    pass


class RemoteForbidden(Forbidden, ApiError):
    pass


class RemoteNotFound(NotFound, ApiError):
    pass


class RemoteConflict(Conflict, ApiError):
    pass


class RemoteConfirmationNeeded(ConfirmationNeeded, ApiError):
    """``confirm``: what to type; ``reasons``; ``dangerous``: provisioning's changes."""

    dangerous: list[m.DangerView]


class RemoteUnavailable(Unavailable, ApiError):
    pass


class RemoteRefused(RequestError, ApiError):
    """An error code this client does not know (a newer engine)."""


_BY_CODE: dict[str, type[RequestError]] = {
    InvalidRequest.code: RemoteInvalidRequest,
    NotAuthenticated.code: RemoteNotAuthenticated,
    Forbidden.code: RemoteForbidden,
    NotFound.code: RemoteNotFound,
    Conflict.code: RemoteConflict,
    ConfirmationNeeded.code: RemoteConfirmationNeeded,
    Unavailable.code: RemoteUnavailable,
}
_BY_STATUS: dict[int, type[RequestError]] = {
    400: RemoteInvalidRequest,
    401: RemoteNotAuthenticated,
    403: RemoteForbidden,
    404: RemoteNotFound,
    409: RemoteConflict,
    503: RemoteUnavailable,
}


PLAIN_TEXT = "plain_text"
"""Attribute set on a mapped error: True when the engine answered plain text (an
engine older than the error body), so a client may add method, path and status."""


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return "".join(ch for ch in line if ch.isprintable())[:limit]


def error_from_response(status: int, body: bytes, what: str) -> ApiError:
    """The exception for an error answer (``what``: "GET /api/v1/x", for the message)."""
    detail: m.ErrorDetail | None = None
    legacy: dict[str, Any] | None = None
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raw = None
    if isinstance(raw, dict):
        try:
            detail = m.ErrorBody.model_validate(raw).error
        except ValidationError:
            if isinstance(raw.get("error"), str):
                legacy = raw  # provisioning's older {"error": "...", "dangerous", "confirm"}
    if detail is None:
        if legacy is not None:
            message = _one_line(str(legacy["error"]))
            code = "confirmation_needed" if status == 409 and legacy.get("confirm") else ""
            try:
                danger = [m.DangerView.model_validate(d) for d in legacy.get("dangerous") or []]
            except ValidationError:
                danger = []
            detail = m.ErrorDetail(
                code=code or "refused",
                message=message,
                confirm=str(legacy.get("confirm") or "") or None,
                dangerous=danger or None,
            )
        else:
            text = body.decode("utf-8", "replace").strip()
            first = _one_line(text.splitlines()[0]) if text else ""
            detail = m.ErrorDetail(code="", message=first or f"HTTP {status}")
    message = detail.message or f"HTTP {status}"
    exc = _error_of(status, detail, message, what)
    setattr(exc, PLAIN_TEXT, detail.code == "")
    if detail.msg_id is not None:
        exc.msg_id, exc.params = detail.msg_id, dict(detail.params or {})
    return exc


def _error_of(status: int, detail: m.ErrorDetail, message: str, what: str) -> ApiError:
    cls = _BY_CODE.get(detail.code) or _BY_STATUS.get(status)
    if cls is RemoteConfirmationNeeded or (detail.code == "" and status == 409 and detail.confirm):
        exc = RemoteConfirmationNeeded(
            message, confirm=detail.confirm or "", reasons=detail.reasons or ()
        )
        exc.dangerous = list(detail.dangerous or [])
        exc.status = status
        return exc
    if cls is None:
        if 400 <= status < 500:
            out: ApiError = RemoteRefused(message)
            out.status = status
            return out
        return ApiError(f"{what}: {status} {message}", status=status)
    err = cls(message)
    assert isinstance(err, ApiError)
    err.status = status
    return err
