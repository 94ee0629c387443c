"""The client follows the active engine of a list (eventops.api.client_failover).

Small aiohttp servers on loopback answer as an active engine, a standby (503 to
writes, naming the active one) or not at all (a closed port)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from eventops_hardware.ports import free_ports

from eventops.api.client import EngineClient, EngineUnreachable, FailoverTransport
from eventops.api.client_failover import split_addresses, transport_for
from eventops.errors import ApiError, InvalidRequest, Unavailable


class Engine:
    def __init__(self, name: str, role: str, active: Callable[[], str | None]) -> None:
        self.name = name
        self.role = role
        self.active = active
        self.seen: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.path}")
        headers = {"X-Eventops-Role": self.role}
        active = self.active()
        if active:
            headers["X-Eventops-Active"] = active
        if request.method != "GET" and self.role != "active":
            body = {"error": {"code": "unavailable", "message": "standby", "active": active}}
            return web.json_response(body, status=503, headers=headers)
        return web.json_response({"name": self.name, "role": "technician"}, headers=headers)


@asynccontextmanager
async def serving(*engines: Engine) -> AsyncIterator[None]:
    runners = []
    try:
        for eng, port in zip(engines, free_ports(len(engines)), strict=True):
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", eng.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
            eng.url = f"http://127.0.0.1:{port}"
        yield
    finally:
        for r in runners:
            await r.cleanup()


async def _post(api: EngineClient) -> bytes:
    return await api.call("POST", "/api/v1/reload")


async def test_a_write_to_the_standby_goes_to_the_active_engine_it_names() -> None:
    a = Engine("a", "active", lambda: a.url)
    b = Engine("b", "standby", lambda: a.url)
    async with serving(a, b), EngineClient(f"{b.url},{a.url}", "t") as api:
        assert isinstance(api.transport, FailoverTransport)
        assert json.loads(await _post(api))["name"] == "a"
        assert b.seen == ["POST /api/v1/reload"] and a.seen == ["POST /api/v1/reload"]
        # it stays with the active engine
        assert api.transport.base_url == a.url
        await api.whoami()
        assert len(b.seen) == 1 and len(a.seen) == 2


async def test_reads_follow_the_active_engine_and_fall_back_to_the_standby() -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    b = Engine("b", "standby", lambda: dead)
    async with serving(b), EngineClient(f"{b.url},{dead}", "t") as api:
        # the active engine it names does not answer: the standby's read is good
        assert (await api.whoami()).name == "b"
        # a write gets the standby's 503, naming the active engine
        with pytest.raises(Unavailable) as caught:
            await _post(api)
        assert isinstance(caught.value, ApiError) and caught.value.status == 503


async def test_an_unreachable_engine_is_skipped() -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    a = Engine("a", "active", lambda: None)
    async with serving(a), EngineClient(f"{dead},{a.url}", "t") as api:
        assert (await api.whoami()).name == "a"
        assert api.transport.base_url == a.url
        assert isinstance(api.transport, FailoverTransport) and api.transport.switches == 1


async def test_only_addresses_of_the_list_are_contacted() -> None:
    # a standby naming an engine outside the list is not followed (the token stays home)
    other = Engine("other", "active", lambda: None)
    async with serving(other):
        b = Engine("b", "standby", lambda: other.url)
        c = Engine("c", "standby", lambda: other.url)
        async with serving(b, c), EngineClient(f"{b.url},{c.url}", "t") as api:
            with pytest.raises(Unavailable):
                await _post(api)
            assert other.seen == []
            assert b.seen == ["POST /api/v1/reload"] and c.seen == ["POST /api/v1/reload"]


async def test_none_answering_is_one_error_naming_them_all() -> None:
    p, q = free_ports(2)
    urls = f"http://127.0.0.1:{p},http://127.0.0.1:{q}"
    async with EngineClient(urls, "t") as api:
        with pytest.raises(EngineUnreachable) as caught:
            await api.whoami()
    line = caught.value.one_line()
    assert str(p) in line and str(q) in line and "no engine answers" in line


def test_addresses_are_checked() -> None:
    assert split_addresses(" http://a:1/ , https://b:2,http://a:1") == ["http://a:1", "https://b:2"]
    for bad, why in [
        ("", "no engine address"),
        ("ftp://a:1", "expected http(s)"),
        ("http://a:1,b:2", "expected http(s)"),
        ("http://a:99999", "not a URL"),
        ("http://u:secret@a:1", "holds a user name"),
        (",".join(f"http://h{i}:1" for i in range(9)), "at most 8"),
    ]:
        with pytest.raises(InvalidRequest, match=re.escape(why)) as caught:
            split_addresses(bad)
        assert "secret" not in caught.value.one_line()
    assert not isinstance(transport_for("http://a:1"), FailoverTransport)
    assert isinstance(transport_for("http://a:1,http://b:1"), FailoverTransport)


async def test_the_tui_and_its_command_take_a_list() -> None:
    import argparse

    from eventops.cli.tui_cmd import server_url
    from eventops.errors import ProfileError
    from eventops.tui.client import Api

    both = "http://127.0.0.1:1,http://127.0.0.1:2"
    args = argparse.Namespace(server=both, profile=None)
    assert server_url(args, None) == both
    with pytest.raises(ProfileError, match="--server: engine address 'ftp://x:1'"):
        server_url(argparse.Namespace(server="http://a:1,ftp://x:1", profile=None), None)
    api = Api(both, "t")
    try:
        assert isinstance(api.transport, FailoverTransport)
        assert api.transport.urls == both.split(",")
    finally:
        await api.close()
