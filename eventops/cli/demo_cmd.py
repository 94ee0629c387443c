"""``eventops demo``: simulated devices, the engine and its API on loopback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run the demo event on simulated devices, with scheduled faults"
    )
    p.add_argument(
        "--headless", action="store_true", help="no live log; print a summary at the end"
    )
    p.add_argument(
        "--duration", type=float, help="seconds to run (default: until interrupted; 60 headless)"
    )
    p.add_argument("--listen", help="host:port for the engine API (default: the profile's)")
    p.add_argument("--db", help="store file (default: a temporary one)")
    p.add_argument("--profile", help="a demo-like profile with loopback devices")
    p.add_argument(
        "--tui",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the terminal app (default: when not headless and on a terminal)",
    )
    p.add_argument("--tui-config", help="the terminal app's config file")
    p.set_defaults(func=demo_cmd)


DEMO_TOKEN = "demo-technician-token"
"""The demo profile's technician token (a published demo value, see README)."""


def tui_ui(config: Path | None) -> Callable[[str], Awaitable[None]]:
    """Runs the terminal app against the demo's engine (textual imported only here)."""

    async def ui(url: str) -> None:
        from eventops.tui.app import EventOpsApp
        from eventops.tui.client import Api
        from eventops.tui.config import load_config

        # q asks first here: quitting the app ends the whole demo
        app = EventOpsApp(Api(url, DEMO_TOKEN), load_config(config), confirm_quit=True)
        await app.run_async()
        if app.fatal is not None:
            raise app.fatal

    return ui


async def demo_cmd(args: argparse.Namespace) -> int:
    from eventops.demo import run_demo

    if args.duration is not None and args.duration < 10:
        from eventops.errors import ProfileError

        raise ProfileError("--duration must be at least 10 seconds")
    use_tui = args.tui if args.tui is not None else (not args.headless and sys.stdout.isatty())
    if use_tui and args.headless:
        from eventops.errors import ProfileError

        raise ProfileError("--tui and --headless exclude each other")
    ui = None
    if use_tui:
        from eventops.tui.config import load_config

        cfg = Path(args.tui_config) if args.tui_config else None
        load_config(cfg)  # a bad config is a one-line error before anything starts
        ui = tui_ui(cfg)
    return await run_demo(
        duration=args.duration if args.duration is not None else (60.0 if args.headless else None),
        headless=args.headless,
        listen=args.listen,
        db=Path(args.db) if args.db else None,
        out=sys.stdout,
        profile_path=Path(args.profile) if args.profile else None,
        ui=ui,
    )
