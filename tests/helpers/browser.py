"""Headless Chromium for the page tests: how long an ``expect`` waits for the page.

Playwright's ``expect`` polls the page until its condition holds; its timeout only
bounds a test that would otherwise hang, never a figure under test. Five seconds (its
default) is one busy moment on CI's two shared cores with the engine, the server and
the browser all running, so the page tests wait up to 20 s.
"""

from __future__ import annotations

from playwright.async_api import expect

EXPECT_TIMEOUT_MS = 20_000


def patient_expect() -> None:
    """Give every ``expect`` in this process the page tests' bound."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
