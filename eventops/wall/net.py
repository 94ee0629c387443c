"""HTTP plumbing shared by the wall's sources.

:class:`MappedResolver` lets a client that hard-codes its API host (tweepy's
``https://api.twitter.com``) reach another address — a simulator on
loopback in tests and in ``eventops demo`` — while TLS still checks the
certificate against the real host name.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class MappedResolver(AbstractResolver):
    """Resolve the mapped host names to fixed ``(address, port)`` pairs."""

    def __init__(
        self,
        mapping: Mapping[str, tuple[str, int]],
        fallback: AbstractResolver | None = None,
    ) -> None:
        self._map = {k.lower(): v for k, v in mapping.items()}
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        target = self._map.get(host.lower().rstrip("."))
        if target is None:
            if self._fallback is None:
                self._fallback = DefaultResolver()
            return await self._fallback.resolve(host, port, family)
        addr, mapped_port = target
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        return [
            ResolveResult(hostname=host, host=addr, port=mapped_port, family=fam, proto=0, flags=0)
        ]

    async def close(self) -> None:
        if self._fallback is not None:
            await self._fallback.close()
