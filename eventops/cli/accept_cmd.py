"""``eventops probe accept LINK --profile FILE``: Y.1564-style acceptance of a link.

Steps through 25/50/75/100 % of the link's contracted capacity against its
SLA, then holds the contracted rate; optionally searches the highest rate
within a loss threshold (RFC 2544). The run is audited and its result
stored as a probe result of kind ``acceptance`` in the event's store.

When an engine serves the event (``--server``/``--token env:NAME``, or
``$EVENTOPS_SERVER`` and ``$EVENTOPS_TOKEN``), the run goes through its API
(``POST /api/v1/probe/accept``): the engine's per-link lock, its audit under
the token's user, and the result is the link's proof in the engine at once.

Registered under the ``probe`` command (after ``eventops.cli.probe_cmd``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from eventops.api.client import split_addresses
from eventops.api.models.acceptance import AcceptanceConfig, AcceptanceResult
from eventops.cli.probe_remote import run_via_engine
from eventops.errors import ApiError, InvalidRequest, ProbeError, ProfileError
from eventops.i18n import Msg
from eventops.probe.accept_measure import ProbeMeasure
from eventops.probe.acceptance import run_acceptance
from eventops.profile import load_profile
from eventops.secrets import LITERAL_HINT, SecretRef
from eventops.store import default_store_path, open_store


def _pcts(text: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of percentages like 25,50,75,100"
        ) from None


def register(sub: Any) -> None:
    probe = sub.choices.get("probe")
    if probe is None:
        raise RuntimeError("eventops.cli.accept_cmd must come after probe_cmd in COMMAND_MODULES")
    psub = next(a for a in probe._actions if isinstance(a, argparse._SubParsersAction))
    a = psub.add_parser(
        "accept",
        help="Y.1564-style acceptance of a link against its contract and SLA",
        description="Steps at 25/50/75/100 % of the contracted capacity, then a sustained "
        "hold; checks rate, loss, delay and jitter against the link's SLA. Needs the "
        "link's probe sink (and STAMP reflector for delay under load) in the profile.",
    )
    a.add_argument("link", help="link id from the profile")
    a.add_argument(
        "--profile", help="the event profile (TOML); needed when no engine runs the probe"
    )
    a.add_argument(
        "--server",
        help="run through this engine (URL); default $EVENTOPS_SERVER when $EVENTOPS_TOKEN is set",
    )
    a.add_argument(
        "--token", help="token reference env:NAME or file:PATH (default env:EVENTOPS_TOKEN)"
    )
    a.add_argument("--db", help="store file (default: the event's store)")
    a.add_argument("--actor", help="who runs it, for the audit log (default: $USER)")
    a.add_argument("--steps", type=_pcts, default=[25.0, 50.0, 75.0, 100.0], help="percent steps")
    a.add_argument("--step-time", type=float, default=5.0, help="seconds per step (default 5)")
    a.add_argument(
        "--hold",
        type=float,
        default=900.0,
        help="sustained test in seconds (default 900, 0 = none)",
    )
    a.add_argument(
        "--rate-tolerance",
        type=float,
        default=2.0,
        help="%% the sent and delivered rates may fall short of a step's target (default 2)",
    )
    a.add_argument("--search", action="store_true", help="also search the highest rate (RFC 2544)")
    a.add_argument("--search-loss", type=float, default=None, help="loss %% allowed in the search")
    a.add_argument(
        "--search-max", type=float, default=100.0, help="search up to this %% (default 100)"
    )
    a.add_argument("--search-time", type=float, default=5.0, help="seconds per search trial")
    a.add_argument("-l", "--size", type=int, default=1472, help="UDP payload bytes (default 1472)")
    a.add_argument(
        "--delay-from",
        choices=["stamp", "stream"],
        default=None,
        help="delay/jitter from STAMP under load (default) or the one-way stream (synced clocks)",
    )
    a.add_argument("--engine", choices=["auto", "c", "python"], default="auto")
    a.add_argument(
        "--force",
        action="store_true",
        help="allow exceeding the contract of a handed-over link (asks for the link id)",
    )
    a.add_argument("--confirm", metavar="LINK", help="the link id, typed, instead of the prompt")
    a.add_argument("--json", action="store_true", help="the full result as JSON on stdout")
    a.set_defaults(func=cmd_accept)


def _engine_target(args: argparse.Namespace) -> tuple[str, str] | None:
    """(URL, token) of the engine to run through, or None to run in-process."""
    server = args.server or os.environ.get("EVENTOPS_SERVER")
    if not server or not (args.server or args.token or os.environ.get("EVENTOPS_TOKEN")):
        return None
    try:
        split_addresses(server)
    except InvalidRequest as exc:
        raise ProfileError(f"--server: {exc.one_line()}") from None
    try:
        ref = SecretRef(args.token or "env:EVENTOPS_TOKEN")
    except ValueError:
        raise ProfileError(f"--token: {LITERAL_HINT}") from None
    return server, ref.reveal()


async def _confirmation(args: argparse.Namespace, link_id: str) -> str | None:
    if args.force and args.confirm is None:
        if not sys.stdin.isatty():
            raise ProbeError("--force needs the link id typed at the prompt, or --confirm LINK")
        prompt = f"type the link id ({link_id}) to allow exceeding its contract: "
        return (await asyncio.to_thread(input, prompt)).strip()
    return cast(str | None, args.confirm)


async def cmd_accept(args: argparse.Namespace) -> int:
    target = _engine_target(args)
    if target is not None:
        return await _accept_via_engine(args, *target)
    if not args.profile:
        raise ProfileError(
            "probe accept needs --profile (or an engine: --server/--token, $EVENTOPS_SERVER)"
        )
    profile = load_profile(args.profile)
    try:
        link = profile.link(args.link)
    except KeyError:
        known = ", ".join(lk.id for lk in profile.links) or "none"
        raise ProbeError(f"{args.profile}: no link {args.link!r} (links: {known})") from None
    try:
        config = AcceptanceConfig(
            steps_pct=args.steps,
            step_duration_s=args.step_time,
            hold_duration_s=args.hold,
            rate_tolerance_pct=args.rate_tolerance,
            search=args.search,
            search_loss_pct=args.search_loss,
            search_max_pct=args.search_max,
            search_trial_s=args.search_time,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise ProbeError(f"acceptance options: {where}: {err['msg']}") from None
    measure = ProbeMeasure.for_link(
        link, size=args.size, delay_from=args.delay_from, engine=args.engine
    )
    confirmation = await _confirmation(args, link.id)
    path = Path(args.db) if args.db else default_store_path(profile.event.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    actor = args.actor or os.environ.get("USER") or "technician"

    def progress(line: Msg) -> None:
        print(f"{link.id}: {line.text('en')}", file=sys.stderr, flush=True)

    async with open_store(path, profile) as store:
        result = await run_acceptance(
            link,
            measure,
            store,
            actor=actor,
            config=config,
            force=args.force,
            confirmation=confirmation,
            progress=progress,
        )
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        for line in result.summary_lines():
            print(line)
    return 0 if result.passed else 1


async def _accept_via_engine(args: argparse.Namespace, url: str, token: str) -> int:
    """The run through the engine: its lock, its audit (as the token's user), its proof."""
    body: dict[str, Any] = {
        "link": args.link,
        "steps": args.steps,
        "step_time": args.step_time,
        "hold": args.hold,
        "rate_tolerance": args.rate_tolerance,
        "search": args.search,
        "search_loss": args.search_loss,
        "search_max": args.search_max,
        "search_time": args.search_time,
        "size": args.size,
        "delay_from": args.delay_from,
        "force": args.force,
        "confirm": await _confirmation(args, args.link),
    }

    def progress(data: dict[str, Any]) -> None:
        if data.get("kind") == "accept" and data.get("phase") == "step":
            print(f"{args.link}: {data.get('line', '')}", file=sys.stderr, flush=True)

    row = await run_via_engine(
        url, token, "/api/v1/probe/accept", body, link=args.link, progress=progress
    )
    try:
        result = AcceptanceResult.model_validate(row["result"])
    except (KeyError, ValidationError):
        raise ApiError(f"engine at {url}: the answer is not an acceptance result") from None
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        for line in result.summary_lines():
            print(line)
        print(f"stored by the engine at {url} as probe result #{row.get('id')}")
    return 0 if result.passed else 1
