"""``eventops serve`` under a leader lease: active or standby (see eventops.engine.standby).

When the profile's store is PostgreSQL (``[store] url``), or with ``--lease
postgresql://…`` (the password from ``PGPASSWORD`` or a ``.pgpass``, never on the
command line), ``serve`` takes part in the event's election: the first engine to take the lease is active; another ``serve`` of
the same event (another ``--listen``, usually another machine) is a standby
that serves reads, answers writes ``503`` naming the active engine, and takes
over within two poll intervals of the active engine's death. ``--advertise``
is the address put in the lease for clients sent away by a standby.
"""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass
from typing import Any

from eventops.engine import Engine
from eventops.engine.standby import Election, Role
from eventops.errors import ProfileError
from eventops.profile.models import Profile
from eventops.server.standby import election_extension
from eventops.store import Store
from eventops.store.fenced import fenced_store
from eventops.store.lease import LeaderLease, fenced_url

DEPOSED_EXIT = 75
"""Exit status of a serve whose engine lost its lease (EX_TEMPFAIL: restart it as a standby)."""


def add_arguments(s: Any) -> None:
    s.add_argument(
        "--lease",
        metavar="URL",
        help="run under the event's leader lease in this PostgreSQL database "
        "(postgresql://user@host/db; password from PGPASSWORD): active or standby "
        "(default: the store's database when [store] url is PostgreSQL)",
    )
    s.add_argument(
        "--advertise",
        metavar="URL",
        help="this engine's address for clients sent here by a standby (default: http(s)://LISTEN)",
    )
    s.add_argument(
        "--lease-ttl",
        type=float,
        metavar="SECONDS",
        help="how long the lease holds without renewal (default: 3/4 of the shortest "
        "poll interval, so a standby takes over within two poll intervals)",
    )


def shortest_interval(profile: Profile) -> float:
    pol = profile.polling
    found = [pol.mast_interval_s, pol.fibre_interval_s]
    found += [d.poll_interval_s for d in profile.devices if d.poll_interval_s]
    return min(found)


def advertise_url(args: argparse.Namespace, host: str, port: int, tls: bool) -> str:
    if args.advertise:
        url = str(args.advertise).rstrip("/")
        if not url.startswith(("http://", "https://")) or len(url) > 500 or " " in url:
            raise ProfileError(f"--advertise {url[:80]!r}: expected http(s)://host:port")
        return url
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


@dataclass
class HaServe:
    """The lease, the fenced store and (once the engine is built) the election."""

    lease: LeaderLease
    store: Store
    election: Election | None = None

    def attach(self, engine: Engine) -> Any:
        """The election of ``engine``; returns the app extension that runs it."""
        self.election = Election(engine, self.lease, on_change=self._said)
        return election_extension(self.election)

    def _said(self, role: Role, what: str) -> None:
        event = self.lease.event_id
        if role is Role.ACTIVE:
            print(f"eventops: active for {event} at {self.lease.address}: {what}", flush=True)
        else:
            print(f"eventops: deposed for {event}: {what}", flush=True)


def store_profile(args: argparse.Namespace, profile: Profile, holder: str) -> Profile:
    """The profile to open the store with: when the lease lives in the store's own
    PostgreSQL database, its connections carry this engine's fence settings, so the
    database itself refuses a write of a term that is over (see eventops.store.lease)."""
    if args.lease or not profile.store.url:
        return profile
    url = fenced_url(profile.store.url, profile.event.id, holder)
    return profile.model_copy(update={"store": profile.store.model_copy(update={"url": url})})


@dataclass(frozen=True)
class LeaseSettings:
    url: str
    ttl_s: float
    from_store: bool
    """The lease lives in the store's own database (``[store] url``)."""


def lease_settings(args: argparse.Namespace, profile: Profile) -> LeaseSettings | None:
    """The lease's database and ttl, checked before anything is opened: in ``--lease``, else
    in the store's own database when the profile's ``[store] url`` is PostgreSQL (every
    engine on a shared database takes part, so pollers never run twice); None for SQLite."""
    url = args.lease or profile.store.url
    if not url:
        if args.lease_ttl is not None:
            raise ProfileError("--lease-ttl needs a lease: --lease URL or a PostgreSQL store")
        return None
    if not str(url).startswith(("postgresql://", "postgres://")) or len(str(url)) > 2000:
        raise ProfileError("--lease: expected a postgresql:// URL")
    ttl = args.lease_ttl if args.lease_ttl is not None else 0.75 * shortest_interval(profile)
    if not 0.2 <= ttl <= 3600:
        raise ProfileError(f"--lease-ttl {ttl:g}: expected 0.2 to 3600 seconds")
    return LeaseSettings(str(url), ttl, from_store=not args.lease)


async def open_ha(
    args: argparse.Namespace, profile: Profile, store: Store, *, address: str, holder: str
) -> HaServe | None:
    """The event's lease (opened), with ``store`` fenced by it (see :func:`lease_settings`);
    None for an SQLite store without ``--lease``."""
    settings = lease_settings(args, profile)
    if settings is None:
        return None
    connect: dict[str, Any] = {}
    if settings.from_store and profile.store.password is not None:
        connect["password"] = profile.store.password.reveal()
    url, ttl = settings.url, settings.ttl_s
    lease = LeaderLease(
        str(url),
        profile.event.id,
        address=address,
        ttl_s=ttl,
        holder=holder,
        connect_kwargs=connect,
    )
    await lease.open()
    ha = HaServe(lease, store)

    def on_fenced(exc: Any) -> None:
        if ha.election is not None:
            ha.election.fenced(exc)

    ha.store = fenced_store(store, lease, on_fenced, fenced_in_database=settings.from_store)
    return ha
