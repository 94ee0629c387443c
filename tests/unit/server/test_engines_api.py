"""``GET /api/v1/engines`` of an engine without a leader lease (SQLite, no ``--lease``), and
who may read it (the election's answer: tests/integration/test_presence.py)."""

from __future__ import annotations

from tests.unit.server.conftest import Served


async def test_a_single_engine_says_so_and_only_technicians_read_it(served: Served) -> None:
    status, body = await served.get("/api/v1/engines", "technik")
    assert status == 200, body
    assert body == {
        "role": "single",
        "address": None,
        "active": None,
        "standby": "auto",
        "standby_expected": False,
        "standby_live": False,
        "absent_after_s": None,
        "as_of": None,
        "engines": [],
    }
    for who in ("police", "comms"):
        status, body = await served.get("/api/v1/engines", who)
        assert status == 403, (who, body)
    status, _ = await served.get("/api/v1/engines", None)
    assert status == 401
