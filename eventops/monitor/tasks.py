"""Stopping background tasks without swallowing our own cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until they finished.

    Their CancelledError is expected and dropped; if the caller itself is
    being cancelled meanwhile, that cancellation propagates. Other errors of
    the tasks are logged (they are shutting down; nobody else will see them).
    """
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    for t in tasks if isinstance(tasks, list | tuple | set) else pending:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.warning("background task ended with %r", t.exception())
