"""``eventops plan/apply/rollback`` through a running engine's API.

Used when ``--server URL`` (or ``$EVENTOPS_SERVER``) names an engine: the
engine plans and applies with its own profile, under its site locks, with
its maintenance; the progress comes back over the live stream. The token
is a reference (``--token env:NAME`` or ``file:PATH``; default
``$EVENTOPS_TOKEN``) to a technician token.

Dangerous changes (see :mod:`eventops.provision.service`) need the event's
id typed at the prompt, or ``--confirm EVENT_ID`` for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from eventops.errors import ApiError, ProvisioningError, SecretError
from eventops.provision.engine import ApplyReport, DevicePlan, PlanReport, ProgressEvent
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


@asynccontextmanager
async def _session(remote: Remote) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        headers=remote.headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
    ) as s:
        yield s


async def _call(
    s: aiohttp.ClientSession, remote: Remote, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    try:
        async with s.request(method, remote.url + path, json=body) as r:
            text = await r.text()
            status = r.status
    except (aiohttp.ClientError, OSError) as exc:
        raise ApiError(f"cannot reach the engine at {remote.url} ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if status in (401, 403):
        raise ApiError(
            f"engine at {remote.url}: {status} {text.strip()[:120]} (a technician token is needed)",
            status=status,
        )
    if status >= 400 and not isinstance(data, dict):
        raise ApiError(f"engine at {remote.url}: {status} {text.strip()[:200]}", status=status)
    if status >= 400 and isinstance(data.get("error"), dict):
        # the engine's error body {"error": {code, message, confirm?, dangerous?}}, flattened
        err = data["error"]
        data = {**err, "error": err.get("message", status)}
    return status, data


def plan_from_json(data: dict[str, Any]) -> PlanReport:
    return PlanReport(
        devices=[DevicePlan.model_validate(d) for d in data.get("devices", [])],
        waves=data.get("order", []),
        notes=data.get("notes", []),
    )


async def remote_plan(remote: Remote, devices: list[str] | None) -> dict[str, Any]:
    async with _session(remote) as s:
        status, data = await _call(
            s, remote, "POST", "/api/v1/provision/plan", {"devices": devices}
        )
    if status != 200:
        raise ApiError(f"engine at {remote.url}: {data.get('error', status)}", status=status)
    assert isinstance(data, dict)
    return data


def print_dangers(data: dict[str, Any]) -> None:
    for d in data.get("dangerous", []):
        where = f" {d['path']}" if d.get("path") else ""
        print(f"! dangerous: {d['device']}{where}: {d['reason']}")


class _Stream:
    """The engine's live stream, read in the background into a queue."""

    def __init__(self, s: aiohttp.ClientSession, remote: Remote) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | BaseException] = asyncio.Queue()
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._read(s, remote))

    async def _read(self, s: aiohttp.ClientSession, remote: Remote) -> None:
        try:
            async with s.get(remote.url + "/api/v1/stream") as r:
                if r.status != 200:
                    raise ApiError(f"engine at {remote.url}: stream refused ({r.status})")
                kind = ""
                async for raw in r.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.ready.set()
                        self.queue.put_nowait((kind, json.loads(line[6:])))
            raise ApiError(f"engine at {remote.url}: the stream ended")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            self.ready.set()
            self.queue.put_nowait(ApiError(f"engine at {remote.url}: stream lost ({exc})"))
        except ApiError as exc:
            self.ready.set()
            self.queue.put_nowait(exc)

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


async def _ask_phrase(phrase: str) -> str:
    return (
        await asyncio.to_thread(
            input, f"Dangerous changes: type the event id ({phrase}) to go on: "
        )
    ).strip()


async def remote_run(
    remote: Remote,
    args: argparse.Namespace,
    *,
    rollback_to: int | None,
    interactive: bool,
) -> ApplyReport:
    """Start an apply or rollback on the engine and follow it to its report."""
    confirm: str | None = getattr(args, "confirm", None)
    if rollback_to is None:
        path, body = "/api/v1/provision/apply", {"devices": args.device, "confirm": confirm}
    else:
        path, body = "/api/v1/provision/rollback", {"apply_id": rollback_to, "confirm": confirm}
    progress = TerminalProgress(sys.stderr)
    async with _session(remote) as s:
        stream = _Stream(s, remote)
        try:
            await asyncio.wait_for(stream.ready.wait(), 30)
            status, data = await _call(s, remote, "POST", path, body)
            if status == 409 and isinstance(data, dict) and data.get("confirm") and interactive:
                print_dangers(data)
                body["confirm"] = await _ask_phrase(str(data["confirm"]))
                status, data = await _call(s, remote, "POST", path, body)
            if status != 202:
                msg = data.get("error", status) if isinstance(data, dict) else status
                if isinstance(data, dict) and data.get("confirm"):
                    print_dangers(data)
                    msg = f"{msg} (--confirm {data['confirm']})"
                raise ProvisioningError(f"engine at {remote.url}: {msg}")
            apply_id = data["apply_id"]
            while True:
                item = await stream.queue.get()
                if isinstance(item, BaseException):
                    raise ProvisioningError(
                        f"{item}; #{apply_id} goes on in the engine "
                        "(its result: GET /api/v1/provision/applies)"
                    )
                kind, ev = item
                d = ev.get("data", {})
                if not kind.startswith("provision") or d.get("apply_id") != apply_id:
                    continue
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
