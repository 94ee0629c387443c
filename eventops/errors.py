"""The eventops exception hierarchy.

Every error a user can cause derives from :class:`EventOpsError`. Each class
carries a short user-facing ``title``; ``str(exc)`` is a one-line message that
names the file, field, device or input at fault. The CLI and the TUI map these
classes to messages and exit codes in one place (``eventops.cli``).

    EventOpsError
    ├── ProfileError            a profile that cannot be loaded or is invalid
    ├── SecretError             a secret reference that cannot be resolved
    ├── StoreError              the event store cannot be opened or written
    │   ├── AuditChainBroken    the audit log's chain, MACs or checkpoint do not verify
    │   ├── StoreEmpty          an empty file, or SQLite without an event store's schema
    │   ├── AuditTableMissing   an event store whose audit table is gone
    │   └── AuditCheckpointError  a checkpoint that cannot be read or trusted
    ├── DeviceError             anything that went wrong talking to a device
    │   ├── DeviceUnreachable   no connection (refused, no route, TLS pin mismatch)
    │   │   └── DeviceTimeout   connected (or tried) but no answer in time
    │   ├── AuthenticationFailed  the device refused our credentials
    │   ├── PermissionDenied    logged in, but the account may not do this
    │   ├── ProtocolError       the device answered with an error or garbage;
    │   │                       carries the device's own code and text
    │   └── Unsupported         the device does not offer this object or verb
    ├── ProvisioningError       plan/apply/confirm/rollback failed
    │   └── LockBusy            another apply holds the site lock
    ├── ProbeError              a link measurement could not run
    ├── WallError               a social-wall source or moderation failure
    ├── RequestError            the engine refused a request (domain errors; the
    │   │                       server maps each class to one HTTP status, nothing
    │   │                       below ``eventops.server`` knows a status)
    │   ├── InvalidRequest      a request that is malformed or out of bounds   (400)
    │   ├── NotAuthenticated    no or unknown token                            (401)
    │   ├── Forbidden           the caller's role may not do this              (403)
    │   ├── NotFound            no such device, link, alert, apply, post …     (404)
    │   ├── Conflict            the thing is busy or in a state that forbids it (409)
    │   │   ├── ConfirmationNeeded  a dangerous change needs the typed id     (409)
    │   │   └── NotSupported    the device's driver does not offer this verb    (409)
    │   └── Unavailable         the service is not running here / standby     (503)
    └── ApiError                a client's view of an engine API failure
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Self


class EventOpsError(Exception):
    """Root of every error a user can cause or meet.

    ``str(exc)`` is English (scripts and logs read it). An error a person sees may
    also carry its message as an id of :mod:`eventops.i18n`'s catalogue with
    ``params`` (:meth:`with_msg`; ``eventops.i18n.refusal`` builds both from one
    message): the API's error body then has ``msg_id`` and ``params`` next to the
    English ``message``, and a client shows it in its reader's language."""

    title = "eventops error"
    exit_code = 1
    msg_id: str | None = None
    params: Mapping[str, object] = MappingProxyType({})

    def with_msg(self, msg_id: str, params: Mapping[str, object]) -> Self:
        """This error with its message id and parameters (JSON-able)."""
        self.msg_id, self.params = msg_id, dict(params)
        return self

    def carry(self, cause: EventOpsError) -> Self:
        """This error with ``cause``'s message id, if it has one (a domain error raised
        again as a request error keeps its message for other languages)."""
        if cause.msg_id is not None:
            self.with_msg(cause.msg_id, cause.params)
        return self

    def one_line(self) -> str:
        """The message as exactly one line (newlines folded)."""
        return " ".join(str(self).split("\n")).strip() or self.title


@dataclass(frozen=True)
class Problem:
    """One fault in a profile: where it is and what is wrong."""

    source: str
    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    @property
    def dotted(self) -> str:
        out = ""
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + part
        return out or "(top level)"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.dotted}: {self.message}"


class ProfileError(EventOpsError):
    title = "Invalid profile"
    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        """One line per problem."""
        if self.problems:
            return [str(p) for p in self.problems]
        return [self.one_line()]


class SecretError(EventOpsError):
    title = "Secret not available"
    exit_code = 2


class StoreError(EventOpsError):
    title = "Event store error"
    exit_code = 4


class AuditChainBroken(StoreError):
    title = "Audit log tampered"
    exit_code = 5


class StoreEmpty(StoreError):
    title = "Not an event store"
    exit_code = 10


class AuditTableMissing(StoreError):
    title = "Audit log missing"
    exit_code = 11


class AuditCheckpointError(StoreError):
    title = "Audit checkpoint unusable"
    exit_code = 12


class DeviceError(EventOpsError):
    """A device could not do what we asked. ``device`` names it."""

    title = "Device error"
    exit_code = 3

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        self.message = message
        super().__init__(f"{device}: {message}")


class DeviceUnreachable(DeviceError):
    title = "Device unreachable"


class DeviceTimeout(DeviceUnreachable):
    title = "Device timed out"


class AuthenticationFailed(DeviceError):
    title = "Authentication failed"


class PermissionDenied(DeviceError):
    title = "Permission denied"


class ProtocolError(DeviceError):
    """The device answered, but with an error or something we cannot read.

    ``code`` and ``text`` are the device's own (a ubus status, a JSON-RPC
    error code, a RESTCONF error-tag, an HTTP status).
    """

    title = "Device protocol error"

    def __init__(
        self, device: str, message: str, *, code: int | str | None = None, text: str = ""
    ) -> None:
        self.code = code
        self.text = text
        super().__init__(device, message)


class Unsupported(DeviceError):
    title = "Not supported by device"


class ProvisioningError(EventOpsError):
    title = "Provisioning failed"
    exit_code = 6


class LockBusy(ProvisioningError):
    title = "Site is locked"


class ProbeError(EventOpsError):
    title = "Probe failed"
    exit_code = 7


class ProbeParamError(ProbeError):
    """A probe's parameter out of its range (a port, a rate, a count…): the caller's input,
    refused before anything is sent (the API answers 400, not a probe failure's 502)."""

    title = "Invalid probe parameter"


class WallError(EventOpsError):
    title = "Social wall error"
    exit_code = 8


class ApiError(EventOpsError):
    title = "Engine API error"
    exit_code = 9

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        self.msg_id: str | None = None
        """The engine's message id for it (with :attr:`params`), when it sent one."""
        self.params: dict[str, object] = {}
        super().__init__(message)


class RequestError(EventOpsError):
    """The engine refused a request. ``code`` is a stable machine-readable name."""

    title = "Request refused"
    exit_code = 9
    code = "refused"

    def details(self) -> dict[str, object]:
        """Extra fields of the API's error body (beyond code, title and message)."""
        return {}


class InvalidRequest(RequestError):
    """``field``: the body or query field at fault (dotted), when one is."""

    title = "Invalid request"
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)

    def details(self) -> dict[str, object]:
        return {"field": self.field} if self.field else {}


class NotAuthenticated(RequestError):
    title = "Not authenticated"
    code = "unauthenticated"


class Forbidden(RequestError):
    title = "Not allowed"
    code = "forbidden"


class NotFound(RequestError):
    title = "Not found"
    code = "not_found"


class Conflict(RequestError):
    title = "Conflict"
    code = "conflict"


class Refused(Conflict):
    """A conflict whose reason is also a message id with parameters (:mod:`eventops.i18n`):
    the API's error body carries ``msg_id`` and ``params`` next to the English message,
    so a client shows it in its reader's language."""

    def __init__(self, message: str, msg_id: str, params: dict[str, object]) -> None:
        super().__init__(message)
        self.with_msg(msg_id, params)


class ConfirmationNeeded(Conflict):
    """A dangerous change; ``confirm`` names what must be typed to go ahead."""

    title = "Confirmation needed"
    code = "confirmation_needed"

    def __init__(self, message: str, *, confirm: str = "", reasons: Sequence[str] = ()) -> None:
        self.confirm = confirm
        self.reasons = list(reasons)
        super().__init__(message)

    def details(self) -> dict[str, object]:
        return {"confirm": self.confirm, "reasons": self.reasons}


class NotSupported(Conflict):
    """The device's driver declares it cannot do this (refused before any device I/O)."""

    title = "Not supported by device"
    code = "not_supported"


class Unavailable(RequestError):
    title = "Unavailable"
    code = "unavailable"
