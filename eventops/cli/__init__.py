"""The ``eventops`` command line.

Each sub-command lives in its own module that exposes ``register(subparsers)``
and sets ``func`` on its parser; ``func(args)`` returns an exit code or a
coroutine that returns one. Errors are mapped to one-line messages and exit
codes here, in one place: a user never sees a traceback for a fault they can
fix.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence

from eventops import __version__
from eventops.errors import EventOpsError, ProfileError

#: Sub-command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "eventops.cli.profile_cmd",
    "eventops.cli.token_cmd",
    "eventops.cli.audit_cmd",
    "eventops.cli.engine_cmd",
    "eventops.cli.store_cmd",
    "eventops.cli.demo_cmd",
    "eventops.cli.devices_cmd",
    "eventops.cli.sim_cmd",
    "eventops.cli.provision_cmd",
    "eventops.cli.applies_cmd",
    "eventops.cli.probe_cmd",
    "eventops.cli.wall_cmd",
    "eventops.cli.accept_cmd",
    "eventops.cli.tui_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventops",
        description="IT toolkit for large public events: masts, fibre links, link proof, social wall.",
    )
    parser.add_argument("--version", action="version", version=f"eventops {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def error(message: str) -> None:
    """Print one error line to stderr."""
    print(f"eventops: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except ProfileError as exc:
        for line in exc.lines():
            error(line)
        return exc.exit_code
    except EventOpsError as exc:
        error(exc.one_line())
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 141
