"""Interop tests with stock iperf3 fail instead of skipping under CI=true."""

from __future__ import annotations

import pytest

from tests.integration import stock_iperf3


def test_missing_iperf3_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stock_iperf3, "IPERF3", "/nonexistent/iperf3")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI=true interop tests must run"):
        stock_iperf3.require_iperf3()


def test_missing_iperf3_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stock_iperf3, "IPERF3", "/nonexistent/iperf3")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        stock_iperf3.require_iperf3()
