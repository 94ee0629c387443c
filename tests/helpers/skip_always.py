"""Run only by tests/unit/test_ci_rule.py: a test that always skips."""

import pytest


def test_always_skips() -> None:
    pytest.skip("tool missing (simulated for the CI rule)")
