"""Fixtures for adapters against the simulators on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from eventops_hardware.openwrt_mast import OpenWrtMast

from eventops.clock import FakeClock
from eventops.profile.models import Management
from eventops.secrets import SecretRef

PASSWORD = "mast-secret-1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mast_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EVO_TEST_MAST_PW", PASSWORD)
    return PASSWORD


def management(
    url: str, *, username: str = "root", pin: str | None = None, timeout: float = 2.0
) -> Management:
    return Management(
        url=url,
        username=username,
        password=SecretRef("env:EVO_TEST_MAST_PW"),
        tls_pin=pin,
        timeout_s=timeout,
    )


@pytest.fixture
async def mast(clock: FakeClock, mast_password: str) -> AsyncIterator[OpenWrtMast]:
    m = OpenWrtMast("mast-t", clock=clock, password=mast_password, seed=7)
    await m.start()
    try:
        yield m
    finally:
        await m.stop()
