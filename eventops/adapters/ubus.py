"""The ubus JSON-RPC codec (uhttpd-mod-ubus + rpcd), without sockets.

Builds legacy JSON-RPC 2.0 requests for ``POST /ubus`` (single calls and
batches) and turns answers into data or into the eventops exception
hierarchy:

- JSON-RPC errors: ``-32002 Access denied`` (an unknown/expired session or an
  ACL denial) becomes :class:`AccessDenied` (a :class:`PermissionDenied`)
  so that a driver can log in again once before giving up; ``-32000`` object
  not found becomes :class:`ObjectNotFound` (an :class:`Unsupported` that may
  be transient: rpcd's objects vanish while it restarts) and ``-32601``
  method not found :class:`Unsupported`;
  ``-32003`` a ubus timeout on the device becomes :class:`DeviceTimeout`;
  the rest are :class:`ProtocolError` with the device's code and text.
- Legacy results ``[status]`` / ``[status, data]`` with the ubus status codes
  0-13 (see :data:`UBUS_STATUS`). Some calls give a status a specific
  meaning (rpcd's ``uci apply/confirm/rollback/commit/revert``); those are in
  :data:`CALL_STATUS` and raise the matching :class:`UciStateError` subclass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventops.errors import (
    DeviceError,
    DeviceTimeout,
    PermissionDenied,
    ProtocolError,
    Unsupported,
)

ANON_SID = "0" * 32
"""The anonymous session id; enough for ``session login`` and ``list``."""

BODY_LIMIT = 64 * 1024
"""uhttpd's limit on a request body."""

UBUS_STATUS: Mapping[int, str] = {
    0: "OK",
    1: "invalid command",
    2: "invalid argument",
    3: "method not found",
    4: "not found",
    5: "no data",
    6: "permission denied",
    7: "timeout",
    8: "not supported",
    9: "unknown error",
    10: "connection failed",
    11: "out of memory",
    12: "parse error",
    13: "system error",
}

JSONRPC_ERRORS: Mapping[int, str] = {
    -32700: "Parse error",
    -32600: "Invalid request",
    -32601: "Method not found",
    -32602: "Invalid parameters",
    -32603: "Internal error",
    -32000: "Object not found",
    -32002: "Access denied",
    -32003: "ubus request timed out",
}


class AccessDenied(PermissionDenied):
    """JSON-RPC ``-32002``: the session is unknown or expired, or the ACL forbids the call."""


class ObjectNotFound(Unsupported):
    """JSON-RPC ``-32000``: no such ubus object right now (not installed, or rpcd restarting)."""

    def __init__(self, device: str, message: str, obj: str = "") -> None:
        super().__init__(device, message)
        self.object = obj


class UciStateError(ProtocolError):
    """A ubus status that rpcd's uci object gives a specific meaning (see :data:`CALL_STATUS`)."""


class NothingStaged(UciStateError):
    """``uci apply`` with nothing staged in the session (status 5)."""


class NothingPending(UciStateError):
    """``uci confirm``/``rollback`` with no pending apply (status 5)."""


class ApplyPending(UciStateError):
    """Refused because an apply waits for its confirm (status 6 on apply, commit, revert)."""


class OtherSessionsApply(UciStateError):
    """``uci confirm``/``rollback`` of an apply that another session started (status 6)."""


CALL_STATUS: Mapping[tuple[str, int], tuple[type[UciStateError], str]] = {
    ("uci apply", 5): (NothingStaged, "nothing staged to apply"),
    ("uci apply", 6): (ApplyPending, "another apply is still waiting for its confirm"),
    ("uci commit", 6): (ApplyPending, "an apply is waiting for its confirm"),
    ("uci revert", 6): (ApplyPending, "an apply is waiting for its confirm"),
    ("uci confirm", 5): (NothingPending, "no pending apply to confirm"),
    ("uci confirm", 6): (OtherSessionsApply, "the pending apply belongs to another session"),
    ("uci rollback", 5): (NothingPending, "no pending apply to roll back"),
    ("uci rollback", 6): (OtherSessionsApply, "the pending apply belongs to another session"),
}
"""(call, status) -> the exception and its meaning, as rpcd's uci.c answers."""

RPCD_MODULES: Mapping[str, str] = {
    "iwinfo": "rpcd-mod-iwinfo",
    "file": "rpcd-mod-file",
    "luci-rpc": "luci-mod-rpc",
    "uci": "rpcd",
    "session": "rpcd",
    "system": "procd",
    "network.interface": "netifd",
    "network.device": "netifd",
    "network.wireless": "netifd",
}
"""Which package provides a ubus object (for "not installed" hints)."""

RPCD_OBJECTS = frozenset({"session", "uci", "iwinfo", "file", "luci-rpc"})
"""Objects that live in rpcd: briefly absent (-32000) while rpcd restarts."""


@dataclass(frozen=True)
class UbusCall:
    """One ``call`` of ``object`` ``method`` with ``args``."""

    object: str
    method: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.object} {self.method}"


def call_request(req_id: int, sid: str, call: UbusCall) -> dict[str, Any]:
    """A legacy JSON-RPC ``call`` request object."""
    return {
        "jsonrpc": "2.0",
        "id": req_id,
        "method": "call",
        "params": [sid, call.object, call.method, dict(call.args)],
    }


def list_request(req_id: int, objects: Sequence[str] = ()) -> dict[str, Any]:
    """A ``list`` request: all object names, or the signatures of ``objects``."""
    req: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": "list"}
    if objects:
        req["params"] = list(objects)
    return req


def request_name(body: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """What a request asks, for messages: ``ubus call system board (+4 more)``."""
    items = [body] if isinstance(body, Mapping) else list(body)
    if not items:
        return "ubus (empty batch)"
    first = items[0]
    params = first.get("params")
    if first.get("method") == "call" and isinstance(params, list) and len(params) >= 3:
        name = f"ubus call {params[1]} {params[2]}"
    else:
        name = f"ubus {first.get('method', '?')}"
    return name + (f" (+{len(items) - 1} more)" if len(items) > 1 else "")


def login_call(username: str, password: str, timeout: int | None = None) -> UbusCall:
    args: dict[str, Any] = {"username": username, "password": password}
    if timeout is not None:
        args["timeout"] = timeout
    return UbusCall("session", "login", args)


def encode(body: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> bytes:
    """The request body; raises ValueError beyond uhttpd's 64 KiB limit."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    if len(raw) > BODY_LIMIT:
        raise ValueError(f"ubus request of {len(raw)} bytes exceeds the 64 KiB limit")
    return raw


def decode(device: str, raw: bytes) -> Any:
    """Parse an answer body; garbage becomes a :class:`ProtocolError`."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        snippet = raw[:40].decode("utf-8", "replace")
        raise ProtocolError(
            device, f"malformed JSON from ubus ({exc.__class__.__name__}: {snippet!r})"
        ) from None


def jsonrpc_error(device: str, code: Any, message: Any, what: str) -> DeviceError:
    """The exception for a JSON-RPC error object."""
    text = str(message or JSONRPC_ERRORS.get(code, "unknown error"))
    where = f"{what}: " if what else ""
    if code == -32002:
        return AccessDenied(device, f"{where}access denied (ubus -32002 {text})")
    if code == -32000:
        return ObjectNotFound(
            device,
            f"{where}ubus object not found (ubus -32000 {text})",
            what.split(" ", 1)[0],
        )
    if code == -32601:
        return Unsupported(device, f"{where}not offered by this device (ubus {code} {text})")
    if code == -32003:
        return DeviceTimeout(device, f"{where}the device's ubus call timed out (ubus {code})")
    return ProtocolError(device, f"{where}ubus error {code} {text}", code=code, text=text)


def status_error(device: str, status: int, what: str) -> DeviceError:
    """The exception for a non-zero ubus status."""
    text = UBUS_STATUS.get(status, "unknown status")
    msg = f"{what}: ubus status {status} ({text})"
    special = CALL_STATUS.get((what, status))
    if special is not None:
        cls, meaning = special
        return cls(device, f"{what}: {meaning} (ubus status {status})", code=status, text=text)
    if status == 6:
        return PermissionDenied(device, msg)
    if status in (3, 8):
        return Unsupported(device, msg)
    if status == 7:
        return DeviceTimeout(device, msg)
    return ProtocolError(device, msg, code=status, text=text)


def parse_reply(device: str, reply: Any, what: str = "") -> dict[str, Any]:
    """The data of one JSON-RPC reply object, or the mapped exception.

    ``[0]`` yields ``{}``; ``[0, data]`` yields ``data``; any other status or
    an ``error`` member raises.
    """
    if not isinstance(reply, Mapping):
        raise ProtocolError(device, f"{what}: ubus reply is not an object")
    if "error" in reply:
        err = reply["error"]
        if not isinstance(err, Mapping):
            raise ProtocolError(device, f"{what}: malformed ubus error member")
        raise jsonrpc_error(device, err.get("code"), err.get("message"), what)
    result = reply.get("result")
    if (
        not isinstance(result, list)
        or not result
        or not isinstance(result[0], int)
        or isinstance(result[0], bool)
    ):
        raise ProtocolError(device, f"{what}: ubus result is not [status, data]")
    status = result[0]
    if status != 0:
        raise status_error(device, status, what)
    if len(result) < 2:
        return {}
    data = result[1]
    if not isinstance(data, dict):
        raise ProtocolError(device, f"{what}: ubus result data is not an object")
    return data


def split_batch(
    device: str, replies: Any, ids: Sequence[int], calls: Sequence[UbusCall]
) -> list[dict[str, Any] | DeviceError]:
    """Match a batch answer to its requests by id; each item is data or an exception."""
    if not isinstance(replies, list):
        if isinstance(replies, Mapping) and "error" in replies:
            # uhttpd answers a batch it cannot parse with one error object.
            err = parse_error_of(device, replies)
            return [err for _ in ids]
        raise ProtocolError(device, "ubus batch answer is not an array")
    by_id: dict[Any, Any] = {}
    for r in replies:
        if isinstance(r, Mapping):
            by_id[r.get("id")] = r
    out: list[dict[str, Any] | DeviceError] = []
    for req_id, call in zip(ids, calls, strict=True):
        r = by_id.get(req_id)
        if r is None:
            out.append(ProtocolError(device, f"{call.name}: no answer in ubus batch"))
            continue
        try:
            out.append(parse_reply(device, r, call.name))
        except DeviceError as exc:
            out.append(exc)
    return out


def parse_error_of(device: str, reply: Mapping[str, Any]) -> DeviceError:
    try:
        parse_reply(device, reply, "batch")
    except DeviceError as exc:
        return exc
    return ProtocolError(device, "ubus batch answered with a single result")


def login_result(device: str, data: Mapping[str, Any]) -> tuple[str, float]:
    """The session id and its timeout from a ``session login`` result."""
    sid = data.get("ubus_rpc_session")
    if not isinstance(sid, str) or len(sid) != 32:
        raise ProtocolError(device, "session login: no ubus_rpc_session in answer")
    timeout = data.get("timeout", 300)
    return sid, float(timeout) if isinstance(timeout, int | float) else 300.0
