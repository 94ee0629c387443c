"""Fixtures for adapters against the simulators on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eventops_hardware.openwrt_mast import OpenWrtMast
from eventops_hardware.ports import free_ports

from eventops.clock import FakeClock
from eventops.profile.models import Management
from eventops.secrets import SecretRef

PASSWORD = "mast-secret-1"
REPO = Path(__file__).resolve().parents[3]


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


def demo_profile_copy(tmp: Path, *, https_pin: str | None = None) -> Path:
    """profiles/demo.toml with every management port replaced by a free one."""
    import re
    import shutil

    src = REPO / "profiles"
    shutil.copytree(src / "demo-secrets", tmp / "demo-secrets")
    text = (src / "demo.toml").read_text(encoding="utf-8")
    urls = re.findall(r'url = "http://127\.0\.0\.1:(\d+)"', text)
    for old, new in zip(urls, free_ports(len(urls)), strict=True):
        text = text.replace(f'url = "http://127.0.0.1:{old}"', f'url = "http://127.0.0.1:{new}"')
    if https_pin is not None:
        text = text.replace('url = "http://', 'tls_pin = "' + https_pin + '", url = "https://')
    out = tmp / "demo.toml"
    out.write_text(text, encoding="utf-8")
    return out
