"""``eventops tui``: the terminal app, a client of a running engine's API.

Textual is imported inside the handler only, so that the command line (and
the whole core) imports without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eventops.errors import ProfileError
from eventops.secrets import LITERAL_HINT, SecretRef

DEFAULT_TOKEN = "env:EVENTOPS_TOKEN"


def register(sub: Any) -> None:
    p = sub.add_parser("tui", help="the terminal app (k9s-style) for a running engine")
    p.add_argument("profile", nargs="?", help="event profile: the engine's address from [server]")
    p.add_argument("--server", help="engine URL, e.g. http://127.0.0.1:8470")
    p.add_argument(
        "--token", help=f"token reference env:NAME or file:PATH (default: {DEFAULT_TOKEN})"
    )
    p.add_argument("--config", help="the app's config file (default: ~/.config/eventops/tui.toml)")
    p.set_defaults(func=tui_cmd)


def server_url(args: argparse.Namespace, configured: str | None) -> str:
    url = args.server or configured
    if url is None and args.profile:
        from eventops.profile import load_profile

        profile = load_profile(Path(args.profile))
        scheme = "https" if profile.server.tls_cert else "http"
        url = f"{scheme}://{profile.server.listen}"
    url = url or "http://127.0.0.1:8470"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProfileError(f"--server {url!r}: expected http(s)://host:port")
    return url


def token_of(args: argparse.Namespace, configured: str | None) -> str:
    ref = args.token or configured or DEFAULT_TOKEN
    try:
        secret = SecretRef(ref)
    except ValueError:
        raise ProfileError(f"--token: {LITERAL_HINT}") from None
    return secret.reveal()


async def tui_cmd(args: argparse.Namespace) -> int:
    from eventops.tui.config import load_config

    config = load_config(Path(args.config) if args.config else None)
    url = server_url(args, config.server)
    token = token_of(args, config.token)

    from eventops.tui.app import EventOpsApp
    from eventops.tui.client import Api

    app = EventOpsApp(Api(url, token), config)
    await app.run_async()
    if app.fatal is not None:
        raise app.fatal  # one line on stderr (a refused token), non-zero exit
    return 0
