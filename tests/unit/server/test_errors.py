"""The one mapping from domain errors to HTTP: status, code and body."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from eventops.api.models import ErrorBody
from eventops.engine.provisioning import ConfirmationNeeded, Danger
from eventops.errors import (
    AuthenticationFailed,
    Conflict,
    DeviceUnreachable,
    EventOpsError,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    NotSupported,
    ProbeError,
    ProbeParamError,
    ProfileError,
    StoreError,
    Unavailable,
    Unsupported,
)
from eventops.server.errors import error_middleware, status_of


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (InvalidRequest("x"), 400, "invalid"),
        (NotAuthenticated("x"), 401, "unauthenticated"),
        (Forbidden("x"), 403, "forbidden"),
        (NotFound("x"), 404, "not_found"),
        (Conflict("x"), 409, "conflict"),
        (ConfirmationNeeded("x", [], "demo"), 409, "confirmation_needed"),
        (NotSupported("x"), 409, "not_supported"),
        (Unavailable("x"), 503, "unavailable"),
        (Unsupported("sw-core", "no reboot"), 409, "not_supported"),
        (DeviceUnreachable("mast-01", "refused"), 502, "device"),
        (AuthenticationFailed("mast-01", "bad password"), 502, "device"),
        (ProbeError("no reply"), 502, "probe"),
        (ProbeParamError("rate: above 10 Gbit/s"), 400, "invalid"),
        (ProfileError("bad"), 409, "profile_invalid"),
        (StoreError("disk full"), 503, "unavailable"),
        (EventOpsError("other"), 409, "refused"),
    ],
)
def test_status_and_code_of_each_error(exc: EventOpsError, status: int, code: str) -> None:
    assert status_of(exc) == (status, code)


async def _answer(exc: BaseException) -> web.Response:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    mw = error_middleware(lambda request, text: text.replace("secret-link", "(hidden)"))
    resp = await mw(make_mocked_request("GET", "/api/v1/x"), handler)
    assert isinstance(resp, web.Response)
    return resp


async def test_body_is_the_contracts_error_body_with_details() -> None:
    dangers = [Danger(device="sw-core", path="x.y", reason="handed over to police")]
    resp = await _answer(ConfirmationNeeded("1 dangerous change", dangers, "demo"))
    assert resp.status == 409 and resp.content_type == "application/json"
    assert resp.text is not None
    body = ErrorBody.model_validate_json(resp.text)
    assert body.error.code == "confirmation_needed" and body.error.confirm == "demo"
    assert body.error.reasons == ["handed over to police"]
    assert body.error.dangerous is not None and body.error.dangerous[0].device == "sw-core"


async def test_messages_are_one_line_and_redacted() -> None:
    resp = await _answer(NotFound("no link 'secret-link'\nin the profile"))
    assert resp.text is not None
    err = json.loads(resp.text)["error"]
    assert err == {"code": "not_found", "message": "no link '(hidden)' in the profile"}


async def test_invalid_names_its_field_and_401_names_the_scheme() -> None:
    resp = await _answer(InvalidRequest("on: Input should be a valid boolean", field="on"))
    assert resp.text is not None and json.loads(resp.text)["error"]["field"] == "on"
    resp = await _answer(NotAuthenticated("unauthorized"))
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="eventops"'


async def test_aiohttps_own_refusals_get_the_same_body() -> None:
    resp = await _answer(web.HTTPMethodNotAllowed("POST", ["GET"]))
    assert resp.status == 405 and resp.headers["Allow"] == "GET"
    assert resp.text is not None
    assert ErrorBody.model_validate_json(resp.text).error.code == "method_not_allowed"


async def test_other_exceptions_and_redirects_pass_through() -> None:
    with pytest.raises(web.HTTPSeeOther):
        await _answer(web.HTTPSeeOther(location="/status"))
    with pytest.raises(RuntimeError):
        await _answer(RuntimeError("a bug is a 500 from aiohttp, logged with its traceback"))
