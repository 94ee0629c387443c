"""``eventops token new USER``: print a fresh token once, and the line to paste."""

from __future__ import annotations

import argparse
from typing import Any

from eventops.profile import load_profile
from eventops.tokens import new_token, token_hash


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="API tokens for users")
    psub = p.add_subparsers(dest="token_command", metavar="ACTION")
    psub.required = True
    new = psub.add_parser("new", help="make a token for USER; it is shown only this once")
    new.add_argument("user", help="user name as in the profile's [[users]]")
    new.add_argument("--profile", help="check that USER exists in this profile")
    new.set_defaults(func=new_cmd)


def new_cmd(args: argparse.Namespace) -> int:
    if args.profile:
        profile = load_profile(args.profile)
        if args.user not in {u.name for u in profile.users}:
            from eventops.errors import ProfileError

            raise ProfileError(f"{args.profile}: no user {args.user!r} in [[users]]")
    token = new_token()
    print(f"token for {args.user} (shown once; hand it over, then forget it):")
    print(f"  {token}")
    print("paste into the user's [[users]] entry:")
    print(f'  token_sha256 = "{token_hash(token)}"')
    return 0
