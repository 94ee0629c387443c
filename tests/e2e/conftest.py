"""End-to-end fixtures: the served engine from the server unit tests, and a browser."""

from __future__ import annotations

from tests.helpers.browser import patient_expect
from tests.unit.server.conftest import served

__all__ = ["served"]

patient_expect()
