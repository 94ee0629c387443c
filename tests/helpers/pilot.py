"""Waiting inside a Textual pilot test: let the app run until a condition holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def until(
    pilot: Pilot[Any], cond: Callable[[], object], what: str, steps: int = 1500
) -> None:
    """Let the app run until ``cond()`` holds, polling every 20 ms. ``steps`` only ends a
    test that would hang (1500: 30 s and more on a busy host); it is never a figure."""
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.02)
    app = pilot.app
    st = getattr(app, "state", None)
    detail = f"error={getattr(app, 'error', '')!r} connected={getattr(app, 'connected', None)} devices={len(st.devices) if st else None} skipped={st.skipped if st else None} last={st.last_id if st else None}"
    raise AssertionError(f"never happened: {what} ({detail})")
