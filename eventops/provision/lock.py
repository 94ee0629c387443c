"""Site locks: one apply per site at a time, across processes.

A lock is an ``flock`` on a file per site next to the event store
(``<store>.locks/site-<id>.lock``). ``flock`` belongs to the open file, so
two applies in one process exclude each other as two processes do, and the
kernel releases the lock when its holder dies: an apply killed with
SIGKILL never leaves a stale lock behind. The holder writes who it is into
the file, so the refusal can say who holds the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from eventops import timefmt
from eventops.errors import LockBusy, ProvisioningError


def lock_dir_for(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".locks")


class SiteLock:
    """Exclusive, non-blocking locks on a set of sites: all or none."""

    def __init__(
        self,
        directory: Path,
        sites: list[str],
        *,
        actor: str,
        purpose: str,
        tz: tzinfo = UTC,
    ) -> None:
        self.directory = directory
        self.sites = sorted(set(sites))
        self.actor = actor
        self.purpose = purpose
        self.tz = tz
        """The event's zone: the refusal says since when the holder holds it in it."""
        self._files: list[IO[str]] = []

    def _acquire(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProvisioningError(
                f"{self.directory}: cannot create the lock folder ({exc.strerror})"
            ) from None
        try:
            for site in self.sites:
                path = self.directory / f"site-{site}.lock"
                f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    f.seek(0)
                    holder = f.read().strip()
                    f.close()
                    raise LockBusy(
                        f"site {site} is locked by another apply ({_who(holder, self.tz)})"
                    ) from None
                self._files.append(f)
                f.seek(0)
                f.truncate()
                f.write(
                    json.dumps(
                        {
                            "pid": os.getpid(),
                            "host": socket.gethostname(),
                            "actor": self.actor,
                            "purpose": self.purpose,
                            "since": datetime.now(UTC).isoformat(timespec="seconds"),
                        }
                    )
                )
                f.flush()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        files, self._files = self._files, []
        for f in files:
            with contextlib.suppress(OSError):
                f.seek(0)
                f.truncate()
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self._acquire)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self._release)


def held_sites(directory: Path, sites: list[str]) -> dict[str, str]:
    """Sites whose lock is held now, with who holds it (the actor).

    Read without taking the lock (which could make a starting apply fail):
    the holder writes itself into the file while it holds the lock and
    empties it on release; a holder on this host that died without releasing
    is recognised by its pid.
    """
    out: dict[str, str] = {}
    host = socket.gethostname()
    for site in sites:
        try:
            text = (directory / f"site-{site}.lock").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if not text:
            continue
        try:
            info = json.loads(text)
        except json.JSONDecodeError:
            continue
        if not isinstance(info, dict):
            continue
        pid = info.get("pid")
        if info.get("host") == host and isinstance(pid, int):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue  # killed while holding it: the kernel released the lock
            except PermissionError:
                pass
        out[site] = str(info.get("actor") or "someone")
    return out


def _who(holder: str, tz: tzinfo = UTC) -> str:
    try:
        h = json.loads(holder)
    except ValueError:
        return "holder unknown"
    if not isinstance(h, dict):
        return "holder unknown"
    since = h.get("since")
    try:
        shown = timefmt.stamp(since, tz) if isinstance(since, str) else "?"
    except ValueError:
        shown = "?"
    return (
        f"{h.get('purpose', 'apply')} by {h.get('actor', '?')}, pid {h.get('pid', '?')} "
        f"on {h.get('host', '?')}, since {shown}"
    )
