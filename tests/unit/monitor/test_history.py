"""History: downsampling, range queries, the timeline, the export."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from eventops.clock import FakeClock
from eventops.monitor.history import Downsampler, export_event, timeline
from eventops.store import SQLiteStore
from eventops.store.models import AlertRow, HandoverRow, ProbeResultRow, Sample

from .factories import T0


async def test_downsample_after_an_hour_keeps_means(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with SQLiteStore(tmp_path / "h.sqlite3") as store:
        # one sample every 5 s for 2 hours: value = minute index
        samples = [
            Sample(
                ts=T0 + timedelta(seconds=s), device="sw-core", metric="rx", value=float(s // 60)
            )
            for s in range(0, 7200, 5)
        ]
        await store.add_samples(samples)
        await clock.advance(7200)
        ds = Downsampler(store, clock, after_s=3600, bucket_s=60)
        removed = await ds.run_once()
        assert removed == 60 * 12 - 60  # first hour: 12 per minute -> 1 per minute
        old = await store.query_samples("sw-core", "rx", T0, T0 + timedelta(minutes=59, seconds=59))
        assert [s.value for s in old] == [float(m) for m in range(60)]
        assert old[0].ts == T0 + timedelta(seconds=30)  # the bucket's middle
        recent = await store.query_samples(
            "sw-core", "rx", T0 + timedelta(hours=1), T0 + timedelta(hours=2)
        )
        assert len(recent) == 720  # the last hour stays raw
        assert await ds.run_once() == 0  # idempotent


async def test_timeline_and_export(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with SQLiteStore(tmp_path / "t.sqlite3", now=clock.now) as store:
        await store.add_alert(
            AlertRow(
                key="link:l1:down",
                severity="critical",
                subject="l1",
                summary="l1 down",
                state="cleared",
                raised_at=T0 + timedelta(seconds=10),
                cleared_at=T0 + timedelta(seconds=70),
            )
        )
        await store.add_probe_result(
            ProbeResultRow(
                ts=T0 + timedelta(seconds=40),
                target="l1",
                kind="acceptance",
                passed=True,
                result={},
            )
        )
        await store.add_handover(
            HandoverRow(
                ts=T0 + timedelta(seconds=50), link="l1", authority="police", actor="technik"
            )
        )
        await store.audit("technik", "link.handover", "l1")
        items = await timeline(store)
        assert [(t.kind, (t.ts - T0).total_seconds()) for t in items] == [
            ("audit:link.handover", 0.0),
            ("alert.raised", 10.0),
            ("probe", 40.0),
            ("handover", 50.0),
            ("alert.cleared", 70.0),
        ]
        window = await timeline(store, T0 + timedelta(seconds=30), T0 + timedelta(seconds=60))
        assert [t.kind for t in window] == ["probe", "handover"]
        out = tmp_path / "export.json"
        counts = await export_event(store, out, event={"id": "demo"})
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "eventops-export/1" and data["event"] == {"id": "demo"}
    assert counts["timeline"] == 5 and len(data["alerts"]) == 1 and len(data["handovers"]) == 1


async def test_samples_older_than_the_retention_are_purged(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with SQLiteStore(tmp_path / "r.sqlite3") as store:
        await store.add_samples(
            [
                Sample(ts=T0 + timedelta(days=d), device="m", metric="x", value=float(d))
                for d in range(10)
            ]
        )
        await clock.advance(10 * 86400)
        ds = Downsampler(store, clock, after_s=3600, retention_s=3 * 86400)
        assert await ds.run_once() == 7
        left = await store.query_samples("m", "x", T0, T0 + timedelta(days=20))
        assert [s.value for s in left] == [7.0, 8.0, 9.0]
