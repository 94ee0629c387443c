"""pytest plugin, loaded only by tests/unit/test_ci_rule.py: Debian's chromium "is missing"."""

from __future__ import annotations

import sys

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    page = sys.modules.get("tests.e2e.test_status_page")
    assert page is not None, "the browser tests were not collected"
    setattr(page, "CHROMIUM", "/nonexistent/chromium")  # noqa: B010 - a module found at run time
