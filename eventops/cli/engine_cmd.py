"""``eventops serve``, ``eventops link handover`` and ``eventops export``.

``serve`` runs the engine and its API for one event until interrupted
(SIGHUP reloads the profile). ``link handover`` goes through the running
engine's API when one serves the event (token from ``EVENTOPS_TOKEN``) and
otherwise polls both ends itself. ``export`` writes the event's record.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from eventops.cli import serve_ha
from eventops.engine import Engine, build_engine
from eventops.errors import ApiError, EventOpsError, InvalidRequest, ProfileError, SecretError
from eventops.i18n import LANGUAGES, lang_of
from eventops.monitor.history import export_event
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.server.app import create_app
from eventops.server.pages import handover_report
from eventops.signals import StopSignals
from eventops.store import (
    SQLiteStore,
    audit_key,
    default_store_path,
    describe_store,
    open_store,
    write_checkpoint,
)
from eventops.store.audit import embed_checkpoint
from eventops.store.lease import new_holder_id

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    s = sub.add_parser("serve", help="run the engine and its API for an event")
    s.add_argument("profile", help="the event profile (TOML)")
    s.add_argument("--listen", help="host:port (default: the profile's [server] listen)")
    s.add_argument("--db", help="store file (default: the event's store)")
    s.add_argument("--tls-cert", help="certificate chain (PEM); default from the profile")
    s.add_argument("--tls-key", help="private key (PEM file); default from the profile")
    serve_ha.add_arguments(s)
    s.set_defaults(func=serve_cmd)

    lk = sub.add_parser("link", help="fibre links")
    lsub = lk.add_subparsers(dest="link_command", metavar="ACTION")
    lsub.required = True
    h = lsub.add_parser(
        "handover", help="hand a link over to an authority, with an optical baseline"
    )
    h.add_argument("link", help="link id")
    h.add_argument("--to", required=True, metavar="AUTHORITY", help="authority id")
    h.add_argument(
        "--profile",
        default=os.environ.get("EVENTOPS_PROFILE"),
        help="the event profile (default: $EVENTOPS_PROFILE)",
    )
    h.add_argument("--by", help="who hands over (default: your login name)")
    h.add_argument("--report", help="write the printable HTML report here")
    h.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=None,
        help="the report's language (default: from $LANG, else en)",
    )
    h.add_argument("--db", help="store file (default: the event's store)")
    h.add_argument("--engine", help="URL of a running engine (default: the profile's listen)")
    h.add_argument(
        "--force",
        action="store_true",
        help="hand over without a passing acceptance test newer than the last change to "
        "either end (needs --reason; audited, and the report's first line says so)",
    )
    h.add_argument("--reason", metavar="TEXT", help="why a forced handover goes ahead")
    h.add_argument("--json", action="store_true", help="print the handover record as JSON")
    h.set_defaults(func=handover_cmd)

    e = sub.add_parser("export", help="write the event's record (JSON) for the archive")
    e.add_argument("profile", help="the event profile (TOML)")
    e.add_argument("--out", help="output file (default: <event>-export.json)")
    e.add_argument("--db", help="store file (default: the event's store)")
    e.set_defaults(func=export_cmd)


def _store_path(profile: Profile, db: str | None) -> Path:
    return Path(db) if db else default_store_path(profile.event.id)


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise ProfileError(f"listen address {listen!r} is not host:port") from None


def _tls(profile: Profile, profile_path: Path, args: argparse.Namespace) -> ssl.SSLContext | None:
    base = profile_path.absolute().parent
    cert = args.tls_cert or profile.server.tls_cert
    if not cert:
        return None
    cert_path = Path(cert) if Path(cert).is_absolute() or args.tls_cert else base / cert
    if not cert_path.is_file():
        raise ProfileError(f"TLS: {cert_path}: no such file")
    if args.tls_key and not Path(args.tls_key).is_file():
        raise ProfileError(f"TLS: {args.tls_key}: no such file")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if args.tls_key:
            ctx.load_cert_chain(cert_path, args.tls_key)
        elif profile.server.tls_key is not None:
            ref = profile.server.tls_key
            if ref.kind == "file":
                key_path = Path(ref.ref[5:]).expanduser()
                ctx.load_cert_chain(
                    cert_path, key_path if key_path.is_absolute() else base / key_path
                )
            else:
                with tempfile.TemporaryDirectory(prefix="evo-tls-") as d:
                    kp = Path(d) / "key.pem"
                    kp.touch(mode=0o600)
                    kp.write_text(ref.reveal(), encoding="utf-8")
                    ctx.load_cert_chain(cert_path, kp)
        else:
            raise ProfileError("server.tls_cert is set but server.tls_key is not")
    except FileNotFoundError as exc:
        raise ProfileError(f"TLS: {exc.filename or 'key file'}: no such file") from None
    except ssl.SSLError as exc:
        raise ProfileError(f"TLS: cannot load certificate/key ({exc.reason or exc})") from None
    return ctx


async def serve_cmd(args: argparse.Namespace) -> int:
    path = Path(args.profile)
    profile = load_profile(path)
    host, port = _split_listen(args.listen or profile.server.listen)
    ctx = await asyncio.to_thread(_tls, profile, path, args)
    store_path = _store_path(profile, args.db)
    address = serve_ha.advertise_url(args, host, port, ctx is not None)
    serve_ha.lease_settings(args, profile)  # bad lease settings: one line, nothing opened
    holder = new_holder_id()
    async with open_store(store_path, serve_ha.store_profile(args, profile, holder)) as store:
        where = describe_store(store)
        ha = await serve_ha.open_ha(args, profile, store, address=address, holder=holder)
        engine = await asyncio.to_thread(
            lambda: build_engine(
                profile,
                ha.store if ha is not None else store,
                store_path=store_path,
                profile_path=path,
                stagger=True,
                run_sources=True,
            )
        )
        extensions = [ha.attach(engine)] if ha is not None else []
        app = create_app(
            engine, manage_engine=ha is None, tls=ctx is not None, extensions=extensions
        )
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        stops = StopSignals(on_hup=_reloader(engine)).install()  # before "serving"
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ctx)
            try:
                await site.start()
            except OSError as exc:
                raise ApiError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            scheme = "https" if ctx else "http"
            print(
                f"eventops: serving {profile.event.name} on {scheme}://{host}:{port}/"
                + (" (standby until it holds the lease)" if ha is not None else ""),
                flush=True,
            )
            started = asyncio.get_running_loop().time()
            if ha is not None and ha.election is not None:
                sig = await stops.run(_until(ha.election.deposed)) or "deposed"
            else:
                sig = await stops.wait()
        finally:
            stops.remove()
            await runner.cleanup()
            if ha is not None:
                await ha.lease.close()
    if sig == "deposed":
        assert ha is not None and ha.election is not None
        print(
            f"eventops: stopped: this engine lost the lease of {profile.event.id} "
            f"({ha.election.reason}); restart it to stand by",
            flush=True,
        )
        return serve_ha.DEPOSED_EXIT
    # the store is closed here (the engine stopped with the app, then the store)
    up = asyncio.get_running_loop().time() - started
    print(
        f"eventops: stopped by {sig} after {up:.0f} s; {len(engine.devices)} devices, "
        f"{len(engine.links)} links, last event #{engine.bus.last_id}; store {where} closed",
        flush=True,
    )
    return 0


async def _until(event: asyncio.Event) -> None:
    await event.wait()


def _reloader(engine: Engine) -> Callable[[], None]:
    """SIGHUP: reload the profile in the background, one line on the outcome."""
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            summary = await engine.reload(actor="sighup")
            print(f"eventops: profile reloaded: {json.dumps(summary)}", flush=True)
        except EventOpsError as exc:
            print(f"eventops: reload refused: {exc.one_line()}", flush=True)

    def on_hup() -> None:
        t = asyncio.create_task(reload())
        reloads.add(t)
        t.add_done_callback(reloads.discard)

    return on_hup


# -- handover -------------------------------------------------------------------------------


async def _engine_url(args: argparse.Namespace, profile: Profile) -> str | None:
    """The URL of a running engine for this event, or None when none answers."""
    if args.engine:
        return str(args.engine).rstrip("/")
    host, port = _split_listen(profile.server.listen)
    scheme = "https" if profile.server.tls_cert else "http"
    url = f"{scheme}://{host}:{port}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s,
            s.get(f"{url}/healthz", ssl=scheme != "https") as r,
        ):
            return url if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


async def handover_cmd(args: argparse.Namespace) -> int:
    if not args.profile:
        raise ProfileError("link handover needs --profile (or $EVENTOPS_PROFILE)")
    if args.force and not (args.reason or "").strip():
        raise InvalidRequest("--force needs --reason TEXT (why the link goes over unproven)")
    if args.reason is not None and not args.force:
        raise InvalidRequest("--reason goes with --force only")
    profile = load_profile(args.profile)
    url = await _engine_url(args, profile)
    if url is not None:
        record = await _handover_via_api(url, args)
    else:
        record = await _handover_in_process(profile, args)
    unproven = record["record"].get("unproven")
    if args.json:
        print(json.dumps({"unproven": unproven, **record}, indent=2, ensure_ascii=False))
    else:
        _print_handover(record, unproven, args)
    if args.report:
        html = embed_checkpoint(
            handover_report(record, profile.event.tz, args.lang or lang_of(os.environ.get("LANG"))),
            record.get("audit_checkpoint"),
        )
        try:
            await asyncio.to_thread(Path(args.report).write_text, html, "utf-8")
        except OSError as exc:
            raise ApiError(f"{args.report}: cannot write report ({exc.strerror})") from None
        if not args.json:
            print(f"report written to {args.report}")
    return 0


def _print_handover(record: dict[str, Any], unproven: str | None, args: argparse.Namespace) -> None:
    if unproven:
        print(unproven)
    ends = record["record"]["ends"]
    print(
        f"handed {args.link} over to {args.to} (record #{record['id']}); baseline rx "
        + ", ".join(
            f"{k}: {e['rx_dbm']:.2f} dBm" if e["rx_dbm"] is not None else f"{k}: no reading"
            for k, e in sorted(ends.items())
        )
    )
    acc = record["record"].get("acceptance")
    print(
        "acceptance: "
        + (
            "none recorded"
            if not acc
            else (f"#{acc['id']} passed" if acc["passed"] else f"#{acc['id']} FAILED")
        )
    )


async def _handover_via_api(url: str, args: argparse.Namespace) -> dict[str, Any]:
    token = os.environ.get("EVENTOPS_TOKEN")
    if not token:
        raise SecretError(
            f"an engine serves this event at {url}: set EVENTOPS_TOKEN to a technician token"
        )
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s,
        s.post(
            f"{url}/api/v1/links/{quote(args.link, safe='')}/handover",
            json={"to": args.to, "force": bool(args.force), "reason": args.reason},
            headers=headers,
        ) as r,
    ):
        text = await r.text()
        if r.status != 201:
            raise ApiError(
                f"engine at {url} refused the handover: {r.status} {_error_message(text)}",
                status=r.status,
            )
        result: dict[str, Any] = json.loads(text)
        return result


def _error_message(text: str) -> str:
    """The message of the engine's error body (see eventops.server.errors), or the text."""
    try:
        err = json.loads(text)["error"]
        return str(err["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200]


async def _handover_in_process(profile: Profile, args: argparse.Namespace) -> dict[str, Any]:
    try:
        link = profile.link(args.link)
    except KeyError:
        raise ProfileError(f"no link {args.link!r} in the profile") from None
    async with open_store(_store_path(profile, args.db), profile) as store:
        engine = build_engine(profile, store, provisioning=False, wall=False)
        await engine.start(poll=False)
        try:
            results = await engine.poll_now([link.a.device, link.b.device])
            for r in results:
                if not r.ok:
                    raise ApiError(f"{r.device}: {r.error}: cannot take a baseline")
            row = await engine.handover(
                args.link,
                args.to,
                args.by or getpass.getuser(),
                force=args.force,
                reason=args.reason,
            )
            out = row.model_dump(mode="json")
            key = audit_key(profile)
            if key is not None:  # the report carries the head, handover included
                out["audit_checkpoint"] = await write_checkpoint(store, key, profile.event.id)
        finally:
            await engine.stop()
    return out


# -- export -------------------------------------------------------------------------------------


async def export_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    path = _store_path(profile, args.db)
    pg = profile.store.url is not None and not args.db  # the profile's PostgreSQL database
    if not pg and not path.exists():
        raise ApiError(f"{path}: no event store here yet")
    out = Path(args.out or f"{profile.event.id}-export.json")
    ev = profile.event
    async with open_store(path, profile) if pg else SQLiteStore(path) as store:
        counts = await export_event(
            store,
            out,
            event={
                "id": ev.id,
                "name": ev.name,
                "venue": ev.venue,
                "start": ev.start.isoformat(),
                "end": ev.end.isoformat(),
                "timezone": ev.timezone,
            },
            audit_key=audit_key(profile),
        )
    print(f"exported to {out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0
