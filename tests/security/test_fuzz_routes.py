"""Every route, every role, hostile input: never a 5xx, and the engine keeps serving.

The route list comes from the app's router, so a route added later is fuzzed
without touching this file. Each hypothesis example is a batch of requests
(generated method/route pairs, path ids, query strings, headers, bodies) sent
through an aiohttp test client to the app in this process; ``FUZZ_EXAMPLES``
x ``BATCH`` requests in the normal run. For a route with query parameters (from
the route table), two requests in three send a valid query with one or two of
them made hostile: values shaped for the parameter's name (times at the edges
of the calendar, huge numbers, forged paging cursors naming the list with a key
of any shape), so the hostile value gets past the other parameters' checks.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import random
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from eventops.api.routes import ROUTES
from tests.security.conftest import OTHER_AUTHORITY, TOKENS, full_app, routes_of

FUZZ_EXAMPLES = int(os.environ.get("EVO_FUZZ_EXAMPLES", "50"))
BATCH = 200
CONCURRENCY = 10
REQUEST_TIMEOUT_S = 20.0

# -- generated parts of a request ---------------------------------------------------------

HOSTILE_NUMBERS = st.sampled_from(
    ["9223372036854775808", "99999999999999999999999", "9" * 5000, "-1", "0", "1e3", "١"]
)
IDS = st.one_of(
    HOSTILE_NUMBERS,
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "2",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999999",
            "9" * 5000,
            "1e3",
            "0x10",
            " 1",
            "١",
            "mast-01",
            "sw-core",
            "fibre-police",
            "fibre-fire",
            "demo",
            "altstadtfest",
            "active",
            "replay:anna",
            "..",
            "%00",
            "a" * 3000,
        ]
    ),
    st.text(max_size=40),
    st.integers().map(str),
)

JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["yes", "true", "1", "", "fibre-police", "mast-01", "x" * 10_000]),
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

HOSTILE_BODIES = st.sampled_from(
    [
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'{"on": ' + b"9" * 5000 + b"}",
        b'{"on": NaN}',
        b'{"on": Infinity}',
        b'{"on": "yes"}',
        b'{"on": true, "extra": 1}',
        b"\xff\xfe{}",
        b'{"note": "\xed\xa0\x80"}',
        b"",
        b"{}",
        b'{"reason": ""}',
        b"null",
        b"on=true",
        b"x" * 300_000,
    ]
)


def _sendable(value: str) -> str:
    """A header value the client sends at all (no control characters; any other byte)."""
    return "".join("?" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in value)


VALID_AUTHZ = st.sampled_from([f"Bearer {t}" for t in TOKENS.values()])
AUTHZ = st.one_of(
    VALID_AUTHZ,  # most requests get past authentication, to reach the handlers
    VALID_AUTHZ,
    VALID_AUTHZ,
    st.sampled_from(
        [
            f"Bearer {OTHER_AUTHORITY}",
            "Bearer ",
            "Bearer evo_\udcff\udcfe",
            "Bearer d\udce9mo-technician-token",
            "Basic dXNlcjpwYXNz",
            "bearer demo-technician-token",
            "Bearer " + "A" * 5000,
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
).map(_sendable)
COOKIE = st.one_of(
    st.sampled_from(
        [
            *(f"evo_token={t}" for t in TOKENS.values()),
            "evo_token=\udcff\udcfe",
            "evo_token=",
            'evo_token="demo-comms-token"',
            "evo_token=demo-comms-token; evo_token=x",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.binary(max_size=40).map(lambda b: "evo_token=" + b.decode("latin-1")),
).map(_sendable)
CTYPE = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=UTF-8",
            "application/json; charset=x-unknown",
            "application/json; charset=latin-1",
            "application/json; charset=",
            'application/json; charset="utf-16"',
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json;;;",
            "",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
HEADER_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "Origin": st.sampled_from(["http://127.0.0.1:1", "null", "http://evil.example", "x"]),
        "Sec-Fetch-Site": st.sampled_from(["same-origin", "cross-site", "none", "same-site"]),
        "Last-Event-ID": st.one_of(st.text(max_size=30), st.sampled_from(["0", "1-1", "9" * 50])),
        "Accept": st.sampled_from(["text/html", "application/json", "*/*", "text/event-stream"]),
        "Accept-Encoding": st.sampled_from(["gzip", "br", "identity;q=0", "x"]),
    },
).map(lambda h: {k: _sendable(v) for k, v in h.items()})


def _cursor(endpoint: str, key: list[Any]) -> str:
    raw = json.dumps([endpoint, key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSOR_KEYS: list[list[Any]] = [
    [1],
    ["abc"],
    [10**30],
    [-(10**30)],
    [],
    [1.5],
    [None],
    [True],
    [[1]],
    ["2026-06-18T16:00:00+00:00", 0],
    ["2026-06-18T16:00:00+00:00", "x"],
    ["2026-06-18T16:00:00+00:00", "alert", 1],
    ["2026-06-18T16:00:00", "0.5", 10**30],
]
CURSORS = [
    _cursor(endpoint, key)
    for endpoint in ("alerts", "applies", "decisions", "history", "timeline", "x")
    for key in CURSOR_KEYS
] + ["", "=", "!!", "W10", "e30", "x" * 600]
"""Cursors a client can forge: base64 JSON naming any list and a key of any shape."""
QUERY_VALUES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "1000",
            "1001",
            "99999999999999999999",
            "9" * 5000,
            "1e3",
            "2026-06-18T16:00:00Z",
            "2026-06-18T16:00:00+99:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "mast-01",
            "load1",
            "rx_dbm",
            "fibre-police",
            "all",
            "pending",
        ]
    ),
    st.sampled_from(CURSORS),
    st.sampled_from(list(TOKENS.values())),
)
OFFSETS = st.sampled_from(["", "Z", "+00:00", "+14:00", "-14:00", "+05:30", "+99:00"])
EDGE_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "0001-01-01T00:00:00.000001+00:01",
        "9999-12-31T23:59:59.999999-14:00",  # after year 9999 in UTC
        "9999-12-31T23:59:59-00:01",
    ]
)
TIMES = st.one_of(
    EDGE_TIMES,
    EDGE_TIMES,
    st.tuples(st.datetimes(), OFFSETS).map(lambda t: t[0].isoformat() + t[1]),
    st.tuples(st.dates(), OFFSETS).map(lambda t: f"{t[0].isoformat()}T00:00:00{t[1]}"),
    QUERY_VALUES,
)
"""Any calendar time with any offset (the edges of year 1 and 9999 included)."""
NUMBERS = st.one_of(
    st.sampled_from(["1", "5", "200", "1000"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    QUERY_VALUES,
)
DEVICES = st.one_of(st.sampled_from(["mast-01", "mast-03", "sw-core", "mc-police"]), QUERY_VALUES)
METRICS = st.one_of(st.sampled_from(["load1", "rx_dbm", "poll_s", "clients_5g"]), QUERY_VALUES)
TYPED: dict[str, st.SearchStrategy[str]] = {
    "device": DEVICES,
    "metric": METRICS,
    "link": st.one_of(st.sampled_from(["fibre-police", "fibre-fire"]), QUERY_VALUES),
    "since": TIMES,
    "until": TIMES,
    "limit": NUMBERS,
    "last_event_id": NUMBERS,
}
"""Values shaped for a parameter of that name, to reach past its first parse."""
GOOD_QUERY = {
    "device": "mc-police",  # visible to the technician and the police alike
    "metric": "rx_dbm",
    "since": "2026-06-18T15:00:00Z",
    "until": "2026-06-18T17:00:00Z",
    "limit": "5",
    "link": "fibre-police",
    "kind": "stamp",
    "state": "pending",
    "all": "1",
}
"""A query each route accepts (the rest of its parameters empty)."""
_PARAMS: dict[tuple[str, str], list[str]] = {
    (r.method, r.path): [q.name for q in r.query] for r in ROUTES if r.query
}
"""Each route's own query parameters (from the route table), to reach its parsing."""
QUERY_KEYS = sorted(
    {name for names in _PARAMS.values() for name in names}
    | {"limit", "since", "until", "token", "last_event_id", "reason", "site", "before", "lang"}
)
QUERY = st.dictionaries(st.sampled_from(QUERY_KEYS), QUERY_VALUES, max_size=3)


class Batch:
    """Requests of one example (a short repr: failures are reported one by one)."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        self.requests = requests

    def __repr__(self) -> str:
        return f"Batch({len(self.requests)} requests)"


_ROLES: dict[tuple[str, str], list[str]] = {(r.method, r.path): sorted(r.roles) for r in ROUTES}
"""Who may call a route (to send the right token half the time and reach the handler)."""
_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    (r.method, r.path): r.request for r in ROUTES if r.request is not None
}
POOL = 4
"""Each example draws this many bodies, header sets, ids and queries, then combines them
per request (drawing every part anew for each of 10,000 requests costs more than sending)."""

ANY_BODY = st.one_of(
    JSON.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    HOSTILE_BODIES,
    st.binary(max_size=200),
)
FIELD_VALUES = st.lists(JSON, min_size=1, max_size=5)
HEADERS = st.tuples(
    HEADER_EXTRAS, st.one_of(st.none(), AUTHZ, AUTHZ), st.one_of(st.none(), COOKIE), CTYPE
)
PLAN = st.integers(0, 2**64 - 1)
"""The seed of one batch's plan: per request a route, a header set, a body, ids and query
and a variation (another method, the kind of body, no Authorization, the right token). A
seed spreads the choices over all routes evenly; hypothesis draws the parts themselves."""


def _model_body(method: str, path: str, values: list[Any], shift: int) -> bytes:
    """A JSON object with (some of) the route's request fields and the drawn values."""
    model = _MODELS.get((method, path))
    names = sorted(model.model_fields) if model is not None else ["on", "note", "x"]
    names = [*names, "unknown"]
    keys = [names[(shift + i) % len(names)] for i in range(len(values))]
    return json.dumps(dict(zip(keys, values, strict=True)), allow_nan=True).encode()


@st.composite
def batches(draw: st.DrawFn, routes: list[tuple[str, str]]) -> Batch:
    ids = draw(st.lists(st.lists(IDS, min_size=2, max_size=2), min_size=POOL, max_size=POOL))
    queries = draw(st.lists(QUERY, min_size=POOL, max_size=POOL))
    headers = draw(st.lists(HEADERS, min_size=POOL, max_size=POOL))
    bodies = draw(st.lists(ANY_BODY, min_size=POOL, max_size=POOL))
    values = draw(st.lists(FIELD_VALUES, min_size=POOL, max_size=POOL))
    qvalues = draw(
        st.lists(st.lists(QUERY_VALUES, min_size=3, max_size=3), min_size=POOL, max_size=POOL)
    )
    typed = {
        name: draw(st.lists(strategy, min_size=POOL, max_size=POOL))
        for name, strategy in TYPED.items()
    }
    rnd = random.Random(draw(PLAN))
    out = []
    for _ in range(BATCH):
        r, var = rnd.randrange(10_000), rnd.randrange(40)
        h, b, i = rnd.randrange(POOL), rnd.randrange(POOL), rnd.randrange(POOL)
        method, template = routes[r % len(routes)]
        if var == 0:
            method = ("PUT", "PATCH", "OPTIONS", "GET", "POST", "DELETE")[rnd.randrange(6)]
        path, n = template, 0
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + quote(ids[i][n % 2], safe="") + path[end + 1 :]
            n += 1
        extras, authz, cookie, ctype = headers[h]
        hdrs: dict[str, str] = dict(extras)
        if authz is not None and var % 7 != 1:
            hdrs["Authorization"] = authz
        allowed = _ROLES.get((method, template))
        if allowed and var % 2 == 0:
            # any of the roles allowed (r picks the route: r % len(allowed) would tie a route
            # to one role whenever the route count is a multiple of len(allowed))
            hdrs["Authorization"] = f"Bearer {TOKENS[allowed[rnd.randrange(len(allowed))]]}"
        if cookie is not None:
            hdrs["Cookie"] = cookie
        body = b""
        if method in ("POST", "PUT", "PATCH", "DELETE") and var % 5 != 2:
            body = bodies[b] if var % 2 else _model_body(method, template, values[b], var)
            hdrs["Content-Type"] = ctype
        query = queries[i]
        own = _PARAMS.get((method, template))
        if own and rnd.randrange(3) != 0:
            # the route's own parameters: a valid query with one or two of them made hostile,
            # so the hostile value gets past the others' checks
            query = {name: GOOD_QUERY.get(name, "") for name in own}
            for _ in range(1 + r % 2):
                name = own[rnd.randrange(len(own))]
                pool = typed[name] if name in typed else qvalues[i]
                query[name] = pool[rnd.randrange(len(pool))]
                if name == "cursor" and rnd.randrange(2):
                    # a forged cursor naming this list (its path's last part), any key shape
                    last = template.rstrip("/").rsplit("/", 1)[-1]
                    query[name] = _cursor(last, CURSOR_KEYS[rnd.randrange(len(CURSOR_KEYS))])
        out.append({"method": method, "path": path, "query": query, "headers": hdrs, "body": body})
    return Batch(out)


# -- the test -------------------------------------------------------------------------------


async def _send(
    client: TestClient[web.Request, web.Application], req: dict[str, Any]
) -> tuple[int, str]:
    query = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in req["query"].items())
    url = req["path"] + (f"?{query}" if query else "")
    async with client.request(
        req["method"],
        url,
        headers=req["headers"],
        data=req["body"],
        allow_redirects=False,
        skip_auto_headers=("Content-Type",),
    ) as resp:
        if resp.content_type == "text/event-stream":
            return resp.status, ""  # a stream: its status is what counts here
        return resp.status, (await resp.read())[:300].decode("utf-8", "replace")


def test_every_route_any_input_never_5xx(tmp_path: Path) -> None:
    stats = {"requests": 0, "unsendable": 0}
    failures: list[str] = []
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        full = runner.run(stack.enter_async_context(full_app(tmp_path)))

        async def make_client() -> TestClient[web.Request, web.Application]:
            jar = DummyCookieJar()  # every request carries only the cookies it generated
            return await stack.enter_async_context(TestClient(TestServer(full.app), cookie_jar=jar))

        client = runner.run(make_client())
        routes = routes_of(full.app)
        assert len(routes) >= 50  # the router was read, not an empty app

        async def batch(reqs: list[dict[str, Any]]) -> None:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(req: dict[str, Any]) -> None:
                async with gate:
                    try:
                        async with asyncio.timeout(REQUEST_TIMEOUT_S):
                            status, text = await _send(client, req)
                    except TimeoutError:
                        status, text = 599, "no answer (hung)"
                    except ValueError:
                        stats["unsendable"] += 1  # the client refused to send it
                        return

                stats["requests"] += 1
                if status >= 500:
                    failures.append(
                        f"{status} {req['method']} {req['path'][:80]} {req['query']!r:.200}: "
                        f"{text[:200]}"
                    )

            await asyncio.gather(*(one(r) for r in reqs))

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # a batch that fails is reported whole, not shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(batches(routes))
        def run(reqs: Batch) -> None:
            if len(failures) < 20:  # enough to fix; the rest of the budget is not spent
                runner.run(batch(reqs.requests))

        started = time.monotonic()
        try:
            run()
            elapsed = time.monotonic() - started
            assert not failures, "\n".join(failures[:20])

            async def still_serving() -> None:
                tech = {"Authorization": f"Bearer {TOKENS['technician']}"}
                async with client.get("/api/v1/whoami", headers=tech) as r:
                    assert r.status == 200 and (await r.json())["role"] == "technician"
                async with client.get("/api/v1/links", headers=tech) as r:
                    assert r.status == 200 and len(await r.json()) == 3
                comms = {"Authorization": f"Bearer {TOKENS['comms']}"}
                async with client.post(
                    "/api/v1/wall/pause", headers=comms, json={"on": False}
                ) as r:
                    assert r.status == 200, await r.text()
                async with client.get("/healthz") as r:
                    assert r.status == 200

            runner.run(still_serving())
        finally:
            runner.run(stack.aclose())
    assert stats["requests"] >= FUZZ_EXAMPLES * BATCH
    assert FUZZ_EXAMPLES * BATCH >= 10_000 or os.environ.get("EVO_FUZZ_EXAMPLES")
    assert math.isfinite(elapsed)
    print(
        f"\nfuzz: {stats['requests']} requests in {elapsed:.1f} s ({stats['unsendable']} unsendable)"
    )
