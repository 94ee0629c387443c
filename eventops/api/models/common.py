"""Building blocks (bounded ids and text, base request/response models), errors, who am I."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# -- building blocks ----------------------------------------------------------------------

MAX_TEXT = 2000
"""Free text a person types (notes, reasons)."""
MAX_ID = 63
"""Device, link, authority and announcement ids (the profile's ``Id``)."""
MAX_INT_ID = 2**63 - 1
"""Row ids (alerts, silences, applies, decisions …) are SQLite integers."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
RowId = Annotated[int, Field(ge=1, le=MAX_INT_ID)]
MatcherKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MatcherValue = Annotated[str, StringConstraints(max_length=300)]
HOSTPORT = r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$"
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*$")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}

Role = Literal["technician", "authority", "comms"]
Severity = Literal["info", "warning", "critical"]


class RequestModel(BaseModel):
    """A request body: strict, closed, finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class ResponseModel(BaseModel):
    """A response body: closed, so drift between server and clients is caught."""

    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------------


class DangerView(ResponseModel):
    """One change that needs a typed confirmation."""

    device: str
    path: str | None = None
    reason: str


class ErrorDetail(ResponseModel):
    code: str
    """A :class:`eventops.errors.RequestError` subclass's ``code`` (``invalid``,
    ``unauthenticated``, ``forbidden``, ``not_found``, ``conflict``,
    ``confirmation_needed``, ``unavailable``), or ``device`` / ``probe`` for a
    device or probe that failed behind the engine (502)."""
    message: str
    """One line naming what was wrong."""
    msg_id: str | None = None
    """The message as an id of the catalogue (:mod:`eventops.i18n`), when it has one: a
    client renders it with ``params`` in its reader's language (``message`` is English)."""
    params: dict[str, Any] | None = None
    confirm: str | None = None
    """``confirmation_needed``: what to type to go ahead."""
    reasons: list[str] | None = None
    """``confirmation_needed``: why the change is dangerous, one line each."""
    dangerous: list[DangerView] | None = None
    """``confirmation_needed`` from provisioning: the dangerous changes."""
    field: str | None = None
    """``invalid``: the body or query field at fault (dotted)."""


class ErrorBody(ResponseModel):
    """Every 4xx/5xx answer of ``/api/v1``."""

    error: ErrorDetail


# -- who am I -----------------------------------------------------------------------------


class WhoAmIView(ResponseModel):
    name: str
    role: Role
    authority: str | None = None
    timezone: str | None = None
    """The event's IANA time zone: clients show every time in it (JSON times stay UTC)."""
