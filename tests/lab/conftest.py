"""Fixtures for link-lab tests, and the rule that a lab test may not skip in CI.

``make_lab(spec)`` builds a lab link (namespaces ``evo-lab-*``), registers
its subnet with the test network guard — for this process and, through
``EVENTOPS_NETGUARD_ALLOW``, for Python subprocesses — and tears it all down
afterwards. Where namespaces cannot be made the test skips with the reason;
under ``CI=true`` such a skip is turned into a failure (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable

import evo_netguard
import pytest
from eventops_hardware.linklab import Lab, LabUnavailable, LinkSpec, check_available, link_lab

MakeLab = Callable[[LinkSpec], contextlib.AbstractAsyncContextManager[Lab]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.lab)


@pytest.fixture
def make_lab(monkeypatch: pytest.MonkeyPatch) -> MakeLab:
    @contextlib.asynccontextmanager
    async def make(spec: LinkSpec) -> AsyncIterator[Lab]:
        try:
            await check_available()
        except LabUnavailable as exc:
            pytest.skip(f"link lab unavailable: {exc}")
        async with link_lab(spec) as lab:
            evo_netguard.allow(lab.subnet)
            allowed = os.environ.get("EVENTOPS_NETGUARD_ALLOW", "")
            monkeypatch.setenv(
                "EVENTOPS_NETGUARD_ALLOW", ",".join(filter(None, (allowed, lab.subnet)))
            )
            try:
                yield lab
            finally:
                evo_netguard.disallow(lab.subnet)

    return make
