"""Helpers for the wall's source tests: a trusted test CA and a mapped session."""

from __future__ import annotations

import ssl

import aiohttp
import trustme

from eventops.wall.net import MappedResolver


class TestTLS:
    """A test CA with one server certificate for the given host names."""

    __test__ = False

    def __init__(self, *hosts: str) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(*hosts)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


def mapped_session(host: str, port: int, tls: TestTLS | None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=MappedResolver({host: ("127.0.0.1", port)}),
        ssl=tls.client_context() if tls else False,
    )
    return aiohttp.ClientSession(connector=connector)
