"""Prometheus exposition of the engine's state, filtered to what the caller may see."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from eventops.engine import presence as _presence
from eventops.engine.standby import Election
from eventops.engine.standby import Role as EngineRole
from eventops.profile.models import Role
from eventops.server.auth import View
from eventops.server.standby import seen_engines


class EngineCollector:
    def __init__(
        self, view: View, audit_head_seq: int | None = None, election: Election | None = None
    ) -> None:
        self.view = view
        self.audit_head_seq = audit_head_seq
        self.election = election

    def collect(self) -> Iterator[Metric]:
        engine, view = self.view.engine, self.view
        up = GaugeMetricFamily(
            "eventops_device_up",
            "1 if the device answered its last poll",
            labels=["device", "kind", "site"],
        )
        score = GaugeMetricFamily(
            "eventops_device_health_score", "0-1000, worst check wins", labels=["device"]
        )
        stale = GaugeMetricFamily(
            "eventops_device_stale",
            "1 if the last good data is older than two intervals",
            labels=["device"],
        )
        poll = GaugeMetricFamily(
            "eventops_device_poll_duration_seconds", "duration of the last poll", labels=["device"]
        )
        clients = GaugeMetricFamily(
            "eventops_device_wlan_clients", "associated WLAN clients", labels=["device"]
        )
        for dev_id in sorted(view.devices):
            if dev_id not in engine.devices:
                continue
            v = engine.device_view(dev_id)
            up.add_metric([dev_id, v["kind"], v["site"] or ""], 1.0 if v["reachable"] else 0.0)
            score.add_metric([dev_id], float(v["score"]))
            stale.add_metric([dev_id], 1.0 if v["stale"] else 0.0)
            poll.add_metric([dev_id], engine.devices[dev_id].poll_duration_s)
            if v["clients"] is not None and v["kind"] == "mast":
                clients.add_metric([dev_id], float(v["clients"]))
        yield from (up, score, stale, poll, clients)

        lup = GaugeMetricFamily(
            "eventops_link_up", "1 if the fibre link carries traffic", labels=["link"]
        )
        lscore = GaugeMetricFamily("eventops_link_health_score", "0-1000", labels=["link"])
        rx = GaugeMetricFamily(
            "eventops_link_rx_power_dbm",
            "optical receive power",
            labels=["link", "end", "device", "port"],
        )
        margin = GaugeMetricFamily(
            "eventops_link_rx_margin_db", "dB to the edge of the optic's window", labels=["link"]
        )
        cap = GaugeMetricFamily(
            "eventops_link_capacity_bits", "contracted capacity", labels=["link"]
        )
        tput = GaugeMetricFamily(
            "eventops_link_throughput_bits", "traffic from counters", labels=["link", "direction"]
        )
        util = GaugeMetricFamily("eventops_link_utilisation_ratio", "of capacity", labels=["link"])
        proof = GaugeMetricFamily(
            "eventops_link_last_proof_timestamp_seconds",
            "time of the last probe result",
            labels=["link", "kind"],
        )
        for link_id in sorted(view.links):
            if link_id not in engine.links:
                continue
            lv = engine.link_view(link_id)
            lup.add_metric([link_id], 1.0 if lv["state"] in ("up", "degraded") else 0.0)
            lscore.add_metric([link_id], float(lv["score"]))
            for end in ("a", "b"):
                val = lv["rx_dbm"].get(end)
                if val is not None:
                    rx.add_metric([link_id, end, lv[end]["device"], lv[end]["port"]], val)
            if lv["margin_db"] is not None:
                margin.add_metric([link_id], lv["margin_db"])
            cap.add_metric([link_id], lv["capacity_mbps"] * 1e6)
            if lv["in_mbps"] is not None:
                tput.add_metric([link_id, "in"], lv["in_mbps"] * 1e6)
                tput.add_metric([link_id, "out"], lv["out_mbps"] * 1e6)
            if lv["utilisation_pct"] is not None:
                util.add_metric([link_id], lv["utilisation_pct"] / 100.0)
            ls = engine.links[link_id]
            if ls.proof is not None:
                proof.add_metric([link_id, ls.proof.kind], ls.proof.ts.timestamp())
        yield from (lup, lscore, rx, margin, cap, tput, util, proof)

        counts = Counter(a.severity for a in engine.alerts.open_alerts() if view.sees(a.subject))
        alerts = GaugeMetricFamily("eventops_alerts_open", "open alerts", labels=["severity"])
        for sev in ("critical", "warning", "info"):
            alerts.add_metric([sev], float(counts.get(sev, 0)))
        yield alerts
        polling = GaugeMetricFamily(
            "eventops_engine_polling", "1 while this engine polls (active; 0 on a standby)"
        )
        polling.add_metric([], 1.0 if engine.polling else 0.0)
        yield polling
        if self.election is not None:
            yield from self._standby(self.election)
        if view.user.role is Role.technician:  # task names carry every device id
            yield from self._supervision()
            yield from self._ring()
        yield from self._audit()

    def _standby(self, election: Election) -> Iterator[Metric]:
        """This engine's role under the lease and the standbys its last presence heartbeat
        saw (no addresses: the route ``/api/v1/engines`` names them, to technicians)."""
        role = GaugeMetricFamily(
            "eventops_engine_role",
            "1 for this engine's role under the event's lease, 0 for the others",
            labels=["role"],
        )
        for r in EngineRole:
            role.add_metric([r.value], 1.0 if election.role is r else 0.0)
        yield role
        engine = self.view.engine
        seen = seen_engines(election, engine.clock.monotonic())
        live = GaugeMetricFamily(
            "eventops_engine_standbys_live",
            "engines of the event standing by (this one included when it is a standby), "
            "seen within three lease ttls at this engine's last presence heartbeat",
        )
        live.add_metric([], float(sum(1 for e, _, ok in seen if ok and e.role == "standby")))
        yield live
        snap = election.presence
        mode = engine.profile.store.standby
        expected = GaugeMetricFamily(
            "eventops_engine_standby_expected",
            "1 when the event is expected to have a standby ([store] standby)",
        )
        expected.add_metric(
            [], 1.0 if snap is not None and _presence.expects_standby(snap, mode) else 0.0
        )
        yield expected
        if snap is not None:
            age = GaugeMetricFamily(
                "eventops_engine_presence_age_seconds",
                "seconds since this engine's last presence heartbeat was answered",
            )
            age.add_metric([], max(0.0, engine.clock.monotonic() - election.presence_at))
            yield age

    def _ring(self) -> Iterator[Metric]:
        bus = self.view.engine.bus
        events = GaugeMetricFamily(
            "eventops_event_ring_events", "live-stream events kept for resuming clients"
        )
        events.add_metric([], float(bus.kept))
        size = GaugeMetricFamily(
            "eventops_event_ring_bytes", "JSON size of the events kept (bounded)"
        )
        size.add_metric([], float(bus.bytes))
        limit = GaugeMetricFamily("eventops_event_ring_limit_bytes", "the ring's bound in bytes")
        limit.add_metric([], float(bus.max_bytes))
        dropped = CounterMetricFamily(
            "eventops_event_ring_dropped", "events dropped from the ring, oldest first"
        )
        dropped.add_metric([], float(bus.dropped))
        subs = GaugeMetricFamily("eventops_stream_clients", "live-stream connections now")
        subs.add_metric([], float(bus.subscribers))
        yield from (events, size, limit, dropped, subs)

    def _audit(self) -> Iterator[Metric]:
        """The audit log's head, and the newest signed checkpoint (see engine/checkpoints):
        a scraper that keeps these sees a log that later shrinks."""
        if self.audit_head_seq is not None:
            head = GaugeMetricFamily(
                "eventops_audit_head_seq", "sequence number of the audit log's newest entry"
            )
            head.add_metric([], float(self.audit_head_seq))
            yield head
        cps = self.view.engine.checkpoints
        cp = cps.latest if cps is not None else None
        if cp is not None:
            seq = GaugeMetricFamily(
                "eventops_audit_checkpoint_seq",
                "audit head sequence number of the newest signed checkpoint",
                labels=["head", "key_id"],
            )
            seq.add_metric([str(cp["head"]), str(cp["key_id"])], float(cp["seq"]))
            yield seq

    def _supervision(self) -> Iterator[Metric]:
        sv = self.view.engine.supervisor
        restarts = CounterMetricFamily(
            "eventops_engine_task_restarts",
            "background tasks of the engine restarted after they died",
            labels=["task"],
        )
        failures = CounterMetricFamily(
            "eventops_engine_task_failures",
            "failures of the engine's tasks and poll-result handlers (each is alerted)",
            labels=["task"],
        )
        for name in sorted(set(sv.restarts) | set(sv.failures) | set(sv.names)):
            restarts.add_metric([name], float(sv.restarts[name]))
            failures.add_metric([name], float(sv.failures[name]))
        yield from (restarts, failures)


def render_metrics(
    view: View, audit_head_seq: int | None = None, election: Election | None = None
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(view, audit_head_seq, election))
    body: bytes = generate_latest(registry)
    return body
