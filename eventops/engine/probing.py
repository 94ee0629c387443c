"""Link probes as an engine service: STAMP, throughput and acceptance runs.

One run per link (or target) at a time: a second is refused with
:class:`~eventops.errors.Conflict`. A run is audited when it starts and when
it ends (with its outcome, an error, or ``aborted`` when it was cancelled),
its result is stored and becomes the link's proof, and while it runs
``probe.progress`` events go on the engine's bus (``phase`` ``start``,
``interval``, ``step``, ``done`` or ``error``; technicians only), then
``probe.ended`` once the link is free again.

The acceptance safety cap applies: exceeding the contract of a handed-over
link needs ``force`` and ``confirm`` equal to the link id, else
:class:`~eventops.errors.Forbidden`. A measurement that fails raises the
probe's :class:`~eventops.errors.ProbeError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from eventops.api.models.acceptance import AcceptanceConfig
from eventops.errors import Conflict, Forbidden, InvalidRequest, ProbeError
from eventops.i18n import Msg, refusal
from eventops.probe.accept_measure import ProbeMeasure, split_hostport
from eventops.probe.acceptance import handed_over_to, run_acceptance
from eventops.probe.models import Interval, StampInterval
from eventops.probe.stamp import run_stamp
from eventops.probe.throughput import run_udp
from eventops.profile.models import Link
from eventops.store.models import ProbeResultRow

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine

Publish = Callable[..., None]


@dataclass
class ProbeService:
    """The runs in flight (one per link or target) and the run → audit → store sequence."""

    engine: Engine
    started: int = 0
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Target -> what runs there (run, kind, target, link, actor, since), for the Pulse."""

    @property
    def busy(self) -> set[str]:
        return set(self.running)

    @contextmanager
    def claim(self, key: str, *, kind: str, actor: str, link: str | None) -> Iterator[int]:
        """Hold ``key`` for one run; when released, ``probe.ended`` goes on the stream."""
        if key in self.running:
            raise refusal(Conflict, Msg("probe.err.busy", {"target": key}))
        self.started += 1
        run = self.started
        self.running[key] = {
            "run": run,
            "kind": kind,
            "target": key,
            "link": link,
            "actor": actor,
            "since": self.engine.clock.now().isoformat(),
        }
        try:
            yield run
        finally:
            self.running.pop(key, None)
            self.engine.bus.publish(
                "probe.ended",
                link or "",
                "link" if link else "event",
                frozenset(),
                {"run": run, "kind": kind, "target": key},
            )

    def runs(self) -> list[dict[str, Any]]:
        return sorted(self.running.values(), key=lambda r: int(r["run"]))

    def _publisher(self, run: int, kind: str, target: str, link: str | None) -> Publish:
        """Publishes this run's ``probe.progress`` events (technicians only: no authorities)."""
        bus = self.engine.bus

        def publish(phase: str, **data: Any) -> None:
            bus.publish(
                "probe.progress",
                link or "",
                "link" if link else "event",
                frozenset(),
                {"run": run, "kind": kind, "target": target, "phase": phase, **data},
            )

        return publish

    async def _aborted(self, actor: str, action: str, target: str, plan: dict[str, Any]) -> None:
        """A run broken off (the client went away, shutdown) still goes on record."""
        await asyncio.shield(
            self.engine.store.audit(actor, action, target, after={**plan, "outcome": "aborted"})
        )

    async def _store(
        self,
        target: str,
        kind: str,
        passed: bool | None,
        result: dict[str, Any],
        audit: tuple[str, str, str, dict[str, Any]],
    ) -> ProbeResultRow:
        """Store the result with its audit entry (one transaction)."""
        eng = self.engine
        row = ProbeResultRow(
            ts=eng.clock.now(), target=target, kind=kind, passed=passed, result=result
        )
        rid = await eng.record_probe_result(row, audit)
        return row.model_copy(update={"id": rid})

    def _link(self, link_id: str) -> Link:
        return self.engine.link(link_id)

    # -- runs -----------------------------------------------------------------------------------

    async def stamp(
        self,
        *,
        actor: str,
        link: str | None = None,
        target: str | None = None,
        count: int = 100,
        interval: float = 0.01,
        wait: float = 1.0,
    ) -> ProbeResultRow:
        """A STAMP run to a link's reflector or to ``target`` (host:port)."""
        if link is not None:
            lk = self._link(link)
            if lk.probe is None:
                raise refusal(InvalidRequest, Msg("probe.err.no_reflector", {"link": lk.id}))
            host, port = split_hostport(lk.probe.reflector)
            key = lk.id
        elif target is not None:
            host, port = split_hostport(target)
            key = target
        else:
            raise refusal(InvalidRequest, Msg("probe.err.link_or_target"))
        eng = self.engine
        plan = {"host": host, "port": port, "count": count, "interval": interval}
        with self.claim(key, kind="stamp", actor=actor, link=link) as run:
            publish = self._publisher(run, "stamp", key, link)
            await eng.store.audit(actor, "probe.stamp.start", key, after=plan)
            publish("start", plan=plan)

            def on_interval(iv: StampInterval) -> None:
                publish("interval", interval=iv.model_dump(mode="json"))

            try:
                result = await run_stamp(
                    host,
                    port,
                    count=count,
                    interval=interval,
                    wait_s=wait,
                    progress=on_interval,
                    progress_interval=0.5,
                )
            except ProbeError as exc:
                await eng.store.audit(
                    actor, "probe.stamp", key, after={**plan, "error": exc.one_line()}
                )
                publish("error", error=exc.one_line())
                raise
            except asyncio.CancelledError:
                await self._aborted(actor, "probe.stamp", key, plan)
                raise
            summary = {
                "replies": result.replies,
                "sent": result.sent,
                "rtt_mean_ms": result.rtt.mean_ms,
            }
            row = await self._store(
                key,
                "stamp",
                None,
                result.model_dump(mode="json"),
                (actor, "probe.stamp", key, {**plan, **summary}),
            )
            publish("done", probe_result=row.id)
        return row

    async def throughput(
        self,
        *,
        actor: str,
        link: str,
        rate_bps: float,
        duration: float = 5.0,
        size: int = 1472,
        layer: Literal["l2", "udp-payload"] = "l2",
        batched: bool | None = None,
    ) -> ProbeResultRow:
        """A paced UDP run to the link's sink at ``rate_bps`` (bit/s at ``layer``)."""
        lk = self._link(link)
        if lk.probe is None or lk.probe.sink is None:
            raise refusal(InvalidRequest, Msg("probe.err.no_sink", {"link": lk.id}))
        if not 0 < rate_bps <= 400e9:
            raise refusal(InvalidRequest, Msg("probe.err.rate"), field="rate")
        host, port = split_hostport(lk.probe.sink)
        if batched is None:
            batched = rate_bps / (8.0 * (size + 42)) > 50_000.0
        plan = {
            "host": host,
            "port": port,
            "rate_bps": rate_bps,
            "layer": layer,
            "duration_s": duration,
            "size": size,
            "batched": batched,
        }
        eng = self.engine
        with self.claim(lk.id, kind="throughput", actor=actor, link=lk.id) as run:
            publish = self._publisher(run, "throughput", lk.id, lk.id)
            await eng.store.audit(actor, "probe.throughput.start", lk.id, after=plan)
            publish("start", plan=plan)

            def on_interval(iv: Interval) -> None:
                publish("interval", interval=iv.model_dump(mode="json"))

            try:
                result = await run_udp(
                    host,
                    port,
                    rate_bps=rate_bps,
                    size=size,
                    duration=duration,
                    batched=batched,
                    layer=layer,
                    interval=min(1.0, duration / 4),
                    progress=on_interval,
                )
            except ProbeError as exc:
                await eng.store.audit(
                    actor, "probe.throughput", lk.id, after={**plan, "error": exc.one_line()}
                )
                publish("error", error=exc.one_line())
                raise
            except asyncio.CancelledError:
                await self._aborted(actor, "probe.throughput", lk.id, plan)
                raise
            summary = {
                "receiver_bps": result.receiver_bps,
                "lost_percent": result.lost_percent,
            }
            row = await self._store(
                lk.id,
                "throughput",
                None,
                result.iperf3_json(),
                (actor, "probe.throughput", lk.id, {**plan, **summary}),
            )
            publish("done", probe_result=row.id)
        return row

    async def accept(
        self,
        *,
        actor: str,
        link: str,
        config: AcceptanceConfig,
        size: int = 1472,
        delay_from: Literal["stamp", "stream"] | None = None,
        force: bool = False,
        confirm: str | None = None,
    ) -> ProbeResultRow:
        """An acceptance run (steps, hold, optional search); its stored result is the proof."""
        lk = self._link(link)
        eng = self.engine
        with self.claim(lk.id, kind="accept", actor=actor, link=lk.id) as run:
            publish = self._publisher(run, "accept", lk.id, lk.id)

            def on_interval(iv: Interval) -> None:
                publish("interval", interval=iv.model_dump(mode="json"))

            try:
                measure = ProbeMeasure.for_link(
                    lk, size=size, delay_from=delay_from, progress=on_interval
                )
            except ProbeError as exc:
                raise InvalidRequest(exc.one_line()).carry(exc) from None
            authority = await handed_over_to(eng.store, lk.id)
            refused = (
                config.max_pct() > 100.0
                and authority is not None
                and not (force and confirm == lk.id)
            )
            publish("start", plan={"steps_pct": config.steps_pct, "hold_s": config.hold_duration_s})
            try:
                result = await run_acceptance(
                    lk,
                    measure,
                    eng.store,
                    actor=actor,
                    config=config,
                    force=force,
                    confirmation=confirm,
                    clock=eng.clock,
                    progress=lambda m: publish("step", line=m.text("en"), msg=m.as_dict()),
                )
            except ProbeError as exc:
                publish("error", error=exc.one_line())
                if refused:  # run_acceptance audited the refusal
                    raise Forbidden(exc.one_line()).carry(exc) from None
                raise
            await eng.take_probe_results()  # the stored acceptance is the link's proof now
            rows = [r for r in await eng.store.list_probe_results(lk.id) if r.kind == "acceptance"]
            row = rows[-1]
            publish("done", probe_result=row.id, passed=result.passed)
        return row

    async def results(
        self, link: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[ProbeResultRow]:
        """Stored results, oldest first (the last ``limit``)."""
        if not 1 <= limit <= 10_000:
            raise refusal(InvalidRequest, Msg("probe.err.limit"), field="limit")
        rows = await self.engine.store.list_probe_results(link)
        if kind is not None:
            rows = [r for r in rows if r.kind == kind]
        return rows[-limit:]
