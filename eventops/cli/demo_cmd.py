"""``eventops demo``: simulated devices, the engine and its API on loopback."""

from __future__ import annotations

import argparse
import sys
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
    p.set_defaults(func=demo_cmd)


async def demo_cmd(args: argparse.Namespace) -> int:
    from eventops.demo import run_demo

    if args.duration is not None and args.duration < 10:
        from eventops.errors import ProfileError

        raise ProfileError("--duration must be at least 10 seconds")
    return await run_demo(
        duration=args.duration if args.duration is not None else (60.0 if args.headless else None),
        headless=args.headless,
        listen=args.listen,
        db=Path(args.db) if args.db else None,
        out=sys.stdout,
        profile_path=Path(args.profile) if args.profile else None,
    )
