"""Alerts to Prometheus Alertmanager: the v2 API's alert shape and a webhook that
posts batches in the background (a slow or dead receiver never holds up polling)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from eventops.clock import Clock
from eventops.monitor.tasks import cancel_and_wait
from eventops.store.models import AlertRow

log = logging.getLogger(__name__)

_ZERO_TIME = "0001-01-01T00:00:00Z"


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alertmanager_alert(alert: AlertRow, external_url: str = "") -> dict[str, Any]:
    labels = {
        "alertname": alert.labels.get("alertname", "EventOps"),
        "severity": alert.severity,
        "subject": alert.subject,
        "key": alert.key,
        **{k: v for k, v in alert.labels.items() if k != "alertname"},
    }
    fp = hashlib.sha256("\0".join(f"{k}={labels[k]}" for k in sorted(labels)).encode()).hexdigest()[
        :16
    ]
    firing = alert.state != "cleared"
    return {
        "status": "firing" if firing else "resolved",
        "labels": labels,
        "annotations": {"summary": alert.summary, "state": alert.state}
        | ({"acked_by": alert.acked_by} if alert.acked_by else {}),
        "startsAt": _rfc3339(alert.raised_at),
        "endsAt": _rfc3339(alert.cleared_at) if alert.cleared_at else _ZERO_TIME,
        "generatorURL": f"{external_url}/api/v1/alerts/{alert.id}" if external_url else "",
        "fingerprint": fp,
    }


def alertmanager_payload(
    alerts: Sequence[AlertRow],
    *,
    receiver: str = "eventops",
    external_url: str = "",
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A body in the format Alertmanager posts to its webhook receivers (version 4);
    ``annotations``: the common ones (the engine's newest audit checkpoint)."""
    items = [alertmanager_alert(a, external_url) for a in alerts]
    firing = any(i["status"] == "firing" for i in items)
    common = dict(items[0]["labels"]) if items else {}
    for i in items[1:]:
        common = {k: v for k, v in common.items() if i["labels"].get(k) == v}
    group = {"alertname": common.get("alertname", "")} if "alertname" in common else {}
    return {
        "version": "4",
        "groupKey": "{}:" + "{" + ",".join(f'{k}="{v}"' for k, v in group.items()) + "}",
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": dict(annotations or {}),
        "externalURL": external_url,
        "alerts": items,
    }


class AlertmanagerWebhook:
    """Posts alert changes to a webhook receiver from a background task.

    Sending never blocks evaluation; a receiver that is down is retried with
    backoff and the change is dropped (and logged) after ``attempts``.
    """

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        external_url: str = "",
        attempts: int = 4,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.clock = clock
        self.external_url = external_url
        self.attempts = attempts
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue[AlertRow] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None
        self.annotations: Callable[[], Mapping[str, str]] | None = None
        """Common annotations of every body (the engine sets its audit checkpoint here)."""
        self.sent = 0
        self.failed = 0

    def send(self, alert: AlertRow) -> None:
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.failed += 1
            log.warning("alert webhook queue full; dropped %s", alert.key)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def drain(self) -> None:
        """Wait until everything queued so far was handled (for tests and shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                alert = await self._queue.get()
                batch = [alert]
                while not self._queue.empty() and len(batch) < 100:
                    batch.append(self._queue.get_nowait())
                try:
                    await self._post(session, batch)
                finally:
                    for _ in batch:
                        self._queue.task_done()

    async def _post(self, session: aiohttp.ClientSession, batch: list[AlertRow]) -> None:
        common = self.annotations() if self.annotations is not None else None
        body = alertmanager_payload(batch, external_url=self.external_url, annotations=common)
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                async with session.post(self.url, json=body) as resp:
                    if resp.status < 300:
                        self.sent += len(batch)
                        return
                    why = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = type(exc).__name__
            if attempt < self.attempts:
                await self.clock.sleep(delay)
                delay *= 2
        self.failed += len(batch)
        log.warning("alert webhook %s failed (%s); dropped %d alerts", self.url, why, len(batch))
