"""``eventops plan/apply/rollback`` through a running engine's API.

Used when ``--server URL`` (or ``$EVENTOPS_SERVER``) names an engine: the
engine plans and applies with its own profile, under its site locks, with
its maintenance; the progress comes back over the live stream. The token
is a reference (``--token env:NAME`` or ``file:PATH``; default
``$EVENTOPS_TOKEN``) to a technician token.

Dangerous changes (see :mod:`eventops.engine.provisioning`) need the event's
id typed at the prompt, or ``--confirm EVENT_ID`` for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from eventops.api.client import EngineClient, EngineUnreachable, RemoteConfirmationNeeded
from eventops.api.models import ApplyStarted, RollbackStarted
from eventops.errors import (
    ApiError,
    ConfirmationNeeded,
    EventOpsError,
    Forbidden,
    NotAuthenticated,
    ProvisioningError,
    SecretError,
)
from eventops.provision.apply import (
    ApplyReport,
    DevicePlan,
    DeviceResult,
    PlanReport,
    ProgressEvent,
)
from eventops.provision.progress import TerminalProgress
from eventops.secrets import LITERAL_HINT, SecretRef

SERVER_ENV = "EVENTOPS_SERVER"
DEFAULT_TOKEN = "env:EVENTOPS_TOKEN"


@dataclass(frozen=True)
class Remote:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def remote_of(args: argparse.Namespace) -> Remote | None:
    """The engine to go through, or None to run in-process."""
    url = getattr(args, "server", None) or os.environ.get(SERVER_ENV)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(f"--server {url!r}: expected http(s)://host:port")
    ref = getattr(args, "token", None) or DEFAULT_TOKEN
    try:
        secret = SecretRef(ref)
    except ValueError:
        raise SecretError(f"--token: {LITERAL_HINT}") from None
    return Remote(url.rstrip("/"), secret.reveal())


def add_remote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help=f"go through this running engine (default: ${SERVER_ENV})")
    p.add_argument(
        "--token", help=f"token reference env:NAME or file:PATH (default: {DEFAULT_TOKEN})"
    )


def _client(remote: Remote) -> EngineClient:
    return EngineClient(remote.url, remote.token, timeout_s=30.0)


def _refused(remote: Remote, exc: EventOpsError) -> ApiError:
    """A refused token or an unreachable engine, as the one line the CLI prints."""
    status: int | None = getattr(exc, "status", None)
    if isinstance(exc, NotAuthenticated | Forbidden):
        return ApiError(
            f"engine at {remote.url}: {status} {exc.one_line()[:120]} "
            "(a technician token is needed)",
            status=status,
        )
    if isinstance(exc, EngineUnreachable):
        return exc
    return ApiError(f"engine at {remote.url}: {exc.one_line()}", status=status)


def plan_from_json(data: dict[str, Any]) -> PlanReport:
    return PlanReport(
        devices=[DevicePlan.model_validate(d) for d in data.get("devices", [])],
        waves=data.get("order", []),
        notes=data.get("notes", []),
    )


async def remote_plan(remote: Remote, devices: list[str] | None) -> dict[str, Any]:
    async with _client(remote) as api:
        try:
            plan = await api.provision_plan(devices)
        except ApiError as exc:
            raise _refused(remote, exc) from None
    return plan.model_dump(mode="json")


def print_dangers(data: dict[str, Any]) -> None:
    for d in data.get("dangerous", []):
        where = f" {d['path']}" if d.get("path") else ""
        print(f"! dangerous: {d['device']}{where}: {d['reason']}")


def _dangers(exc: ConfirmationNeeded) -> dict[str, Any]:
    found = exc.dangerous if isinstance(exc, RemoteConfirmationNeeded) else []
    return {"dangerous": [d.model_dump(mode="json") for d in found]}


class _Stream:
    """The engine's live stream, read in the background into a queue.

    ``last_id``: the newest stream id seen (``<epoch>-<n>``), so that a new stream
    after a loss resumes where this one ended (the engine replays the gap when it
    still can, and sends a fresh snapshot after a restart)."""

    def __init__(self, api: EngineClient, remote: Remote, last_id: str | None = None) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | BaseException] = asyncio.Queue()
        self.ready = asyncio.Event()
        self.last_id = last_id
        self._task = asyncio.create_task(self._read(api, remote))

    async def _read(self, api: EngineClient, remote: Remote) -> None:
        try:
            async for msg in api.stream_once(self.last_id, idle_timeout_s=None):
                self.ready.set()
                self.last_id = msg.stream_id
                self.queue.put_nowait((msg.type, msg.data))
            raise ApiError(f"engine at {remote.url}: the stream ended")
        except (NotAuthenticated, Forbidden) as exc:
            self.ready.set()
            self.queue.put_nowait(
                ApiError(f"engine at {remote.url}: stream refused ({getattr(exc, 'status', '')})")
            )
        except ApiError as exc:
            self.ready.set()
            self.queue.put_nowait(
                exc
                if str(exc).startswith(f"engine at {remote.url}")
                else ApiError(f"engine at {remote.url}: stream lost ({exc.one_line()})")
            )

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


MAX_STREAM_LOSSES = 3
"""Losses of the stream in a row (the engine alive each time) before the CLI stops following."""


async def _after_loss(
    api: EngineClient, remote: Remote, lost: BaseException, what: str, apply_id: int, losses: int
) -> ApplyReport | None:
    """The stream to the engine is gone: say truthfully what that means for the run.

    The engine does not answer: the run's state is unknown (error). It answers:
    the run goes on there; if it ended meanwhile, its report (from the engine's
    record), else None and the caller follows it again."""
    where = f"GET /api/v1/provision/applies/{apply_id}"
    if not await api.alive():
        raise ProvisioningError(
            f"{lost}; engine unreachable; {what} state unknown until it returns (then: {where})"
        )
    if losses > MAX_STREAM_LOSSES:
        raise ProvisioningError(
            f"{lost}; engine alive; {what} continues, but its stream keeps failing "
            f"(its result: {where})"
        )
    print(f"eventops: {lost}; engine alive; {what} continues", file=sys.stderr, flush=True)
    try:
        detail = await api.provision_apply_detail(apply_id)
    except ApiError as exc:
        raise ProvisioningError(
            f"engine at {remote.url}: {what}: cannot read its record ({exc.one_line()})"
        ) from None
    if detail.finished_at is None:
        return None
    try:
        return ApplyReport(
            apply_id=apply_id,
            kind="rollback" if detail.kind == "rollback" else "apply",
            rollback_of=detail.rollback_of,
            actor=detail.actor,
            started_at=detail.started_at,
            finished_at=detail.finished_at,
            devices=[
                DeviceResult.model_validate(
                    {**r.model_dump(mode="json", exclude={"diff"}), "changes": []}
                )
                for r in detail.results
            ],
        )
    except ValidationError:
        raise ProvisioningError(
            f"engine at {remote.url}: {what} ended {detail.state or ''} while the stream was "
            f"lost (its result: {where})"
        ) from None


async def _ask_phrase(phrase: str) -> str:
    return (
        await asyncio.to_thread(
            input, f"Dangerous changes: type the event id ({phrase}) to go on: "
        )
    ).strip()


async def _start(
    api: EngineClient, args: argparse.Namespace, rollback_to: int | None, confirm: str | None
) -> ApplyStarted | RollbackStarted:
    # --confirm-timeout holds through the engine too (its own setting when not given)
    timeout: float | None = getattr(args, "confirm_timeout", None)
    if rollback_to is None:
        return await api.provision_apply(args.device, confirm=confirm, confirm_timeout_s=timeout)
    return await api.provision_rollback(rollback_to, confirm=confirm, confirm_timeout_s=timeout)


async def remote_run(
    remote: Remote,
    args: argparse.Namespace,
    *,
    rollback_to: int | None,
    interactive: bool,
) -> ApplyReport:
    """Start an apply or rollback on the engine and follow it to its report."""
    confirm: str | None = getattr(args, "confirm", None)
    progress = TerminalProgress(sys.stderr)
    async with _client(remote) as api:
        stream = _Stream(api, remote)
        try:
            await asyncio.wait_for(stream.ready.wait(), 30)
            try:
                try:
                    started = await _start(api, args, rollback_to, confirm)
                except ConfirmationNeeded as exc:
                    if not (interactive and exc.confirm):
                        raise
                    print_dangers(_dangers(exc))
                    started = await _start(api, args, rollback_to, await _ask_phrase(exc.confirm))
            except ConfirmationNeeded as exc:
                print_dangers(_dangers(exc))
                msg = exc.one_line() + (f" (--confirm {exc.confirm})" if exc.confirm else "")
                raise ProvisioningError(f"engine at {remote.url}: {msg}") from None
            except (NotAuthenticated, Forbidden, EngineUnreachable) as exc:
                raise _refused(remote, exc) from None
            except ApiError as exc:
                raise ProvisioningError(f"engine at {remote.url}: {exc.one_line()}") from None
            apply_id = started.apply_id
            what = f"{'rollback' if rollback_to is not None else 'apply'} #{apply_id}"
            losses = 0
            while True:
                item = await stream.queue.get()
                if isinstance(item, BaseException):
                    losses += 1
                    report = await _after_loss(api, remote, item, what, apply_id, losses)
                    if report is not None:
                        return report
                    await stream.close()
                    stream = _Stream(api, remote, stream.last_id)
                    continue
                kind, ev = item
                d = ev.get("data", {})
                if not kind.startswith("provision") or d.get("apply_id") != apply_id:
                    continue
                losses = 0
                if kind == "provision":
                    progress(
                        ProgressEvent(
                            d.get("phase", ""),
                            d.get("device"),
                            d.get("message") or "",
                            done=d.get("done") or 0,
                            total=d.get("total") or 0,
                            result=d.get("result"),
                        )
                    )
                elif kind == "provision.finished":
                    return ApplyReport.model_validate(d["report"])
                elif kind == "provision.failed":
                    raise ProvisioningError(
                        f"engine at {remote.url}: #{apply_id} failed: {d.get('reason')}"
                    )
        finally:
            await stream.close()
