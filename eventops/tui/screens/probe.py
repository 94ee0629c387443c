"""The Probe view (``:probe``, technicians only): prove a link from the terminal.

Pick a link on the left; ``s`` runs a STAMP session against its reflector,
``t`` a UDP throughput run to its sink (asks for rate and duration), ``a``
its acceptance (asks for seconds per step, the hold and optionally the % the
rate may fall short, as the CLI's ``--rate-tolerance``; the engine's safety
cap applies and the TUI never forces it), ``e`` saves the last result as
JSON. Every run goes through the engine (``/api/v1/probe/...``): its lock,
its audit, and the result becomes the link's proof. While a run is going,
the engine's ``probe.progress`` events draw a sparkline of the per-interval
round trip (STAMP, ms) or delivered rate (throughput, acceptance, Mbit/s).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from eventops import i18n
from eventops.api.models.acceptance import AcceptanceResult
from eventops.errors import ApiError
from eventops.i18n import Msg
from eventops.tui.client import ProbeRun
from eventops.tui.core import Host, host
from eventops.tui.dialogs import InputScreen
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.state import sparkline
from eventops.tui.tables import fmt_time, msg_text, term

PROBE_ROLES = ("technician",)
"""Roles that get the Probe view (and its keys)."""

_RATE = re.compile(r"^[0-9]*\.?[0-9]+[kKmMgG]?$")


def bind_probe_keys(view: ProbeView) -> None:
    """Add the keys that run probes; only for the roles in :data:`PROBE_ROLES`."""
    for b in ProbeView.DANGEROUS:
        translated = Binding(b.key, b.action, view.evo.tr(b.id or b.action), id=b.id)
        view._bindings.key_to_bindings.setdefault(b.key, []).append(translated)
    view.refresh_bindings()


def summary(run: ProbeRun, tr: Tr, tz: tzinfo | None = None) -> list[str]:
    """The result in a few lines, and how each figure was measured, in the app's language
    (English as the engine and the CLI word it)."""
    r = run.result
    lines: list[tuple[Msg, str]] = []
    methods: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    if run.kind == "stamp":
        rtt = r.get("rtt") or {}

        def ms(key: str) -> str:
            v = rtt.get(key)
            return "-" if v is None else f"{v:.3f}"

        loss = r.get("round_trip_loss_percent", 0)
        lines = [
            (
                Msg(
                    "probe.sum.stamp",
                    {"target": run.target, "replies": r.get("replies"), "sent": r.get("sent"),
                     "loss": loss},
                ),
                f"STAMP {run.target}: {r.get('replies')}/{r.get('sent')} replies, "
                f"loss {loss:.2f} %",
            ),
            (
                Msg(
                    "probe.sum.rtt",
                    {"min": rtt.get("min_ms"), "mean": rtt.get("mean_ms"),
                     "p99": rtt.get("p99_ms"), "max": rtt.get("max_ms"),
                     "jitter": rtt.get("jitter_ms")},
                ),
                f"RTT ms: min {ms('min_ms')} mean {ms('mean_ms')} p99 {ms('p99_ms')} "
                f"max {ms('max_ms')}; jitter {ms('jitter_ms')}",
            ),
        ]  # fmt: skip
        methods = (r.get("methods") or {}, r.get("method_msgs") or {})
    elif run.kind == "throughput":
        e = r.get("eventops") or {}
        sent, rx = e.get("sender_bps", 0) / 1e6, e.get("receiver_bps", 0) / 1e6
        layer = e.get("layer", "?")
        lost, pct = e.get("lost_packets", 0), e.get("lost_percent", 0)
        reordered, duplicated = e.get("reordered", 0), e.get("duplicated", 0)
        lines = [
            (
                Msg("probe.sum.rate",
                    {"target": run.target, "sent": sent, "rx": rx, "layer": layer}),
                f"{run.target}: sent {sent:.2f} Mbit/s, delivered {rx:.2f} Mbit/s ({layer})",
            ),
            (
                Msg("probe.sum.counts",
                    {"lost": lost, "pct": pct, "reordered": reordered,
                     "duplicated": duplicated}),
                f"lost {lost} ({pct:.3f} %), reordered {reordered}, duplicated {duplicated}",
            ),
        ]  # fmt: skip
        methods = (e.get("methods") or {}, e.get("method_msgs") or {})
    elif run.kind == "acceptance":
        try:
            acc = AcceptanceResult.model_validate(r)
        except ValidationError:
            acc = None
        if acc is not None:
            lines = list(zip(acc.summary_msgs(), acc.summary_lines(), strict=True))
            measured = [s.figures for s in [*acc.steps, acc.hold] if s and s.figures]
            if measured:
                methods = (measured[-1].methods, measured[-1].method_msgs)
    if not lines:
        other = Msg("probe.sum.other", {"kind": run.kind, "target": run.target,
                                        "passed": run.passed})  # fmt: skip
        lines = [(other, f"{run.kind} {run.target}: passed={run.passed}")]
    out = [msg_text(tr, tz, m.msg_id, m.as_dict()["params"], en) for m, en in lines]
    said, msgs = methods
    if said:
        out.append(i18n.render("probe.sum.methods", {}, tr.lang))
        for what, how in said.items():
            raw = msgs.get(what)
            text = str(how)
            if isinstance(raw, dict) and tr.lang != "en":
                text = i18n.render(raw.get("msg_id"), raw.get("params"), tr.lang, tz or UTC, text)
            out.append(i18n.render("probe.sum.method", {"what": what, "how": text}, tr.lang))
    return out


class ProbeView(Vertical):
    DEFAULT_CSS = """
    ProbeView { height: 1fr; }
    #probe-help { height: 1; padding: 0 1; color: $text-muted; }
    ProbeView > Horizontal { height: 1fr; }
    #probe-links { width: 32; height: 1fr; }
    #probe-body { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Any]] = [Binding("e", "probe_export", "export", id="probe.export")]
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("s", "probe_stamp", "STAMP", id="probe.stamp"),
        Binding("t", "probe_throughput", "throughput", id="probe.throughput"),
        Binding("a", "probe_accept", "acceptance", id="probe.accept"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.running: tuple[str, str] | None = None
        """(kind, link) of the run in flight."""
        self.run_id: int | None = None
        self.series: list[float] = []
        self.unit = ""
        self.lines: list[str] = []
        self.last: ProbeRun | None = None
        self.error = ""
        self._links: list[str] = []

    @property
    def evo(self) -> Host:
        return host(self)

    def compose(self) -> ComposeResult:
        yield Static(id="probe-help")
        with Horizontal():
            yield OptionList(id="probe-links")
            with VerticalScroll():
                yield Static(id="probe-body")

    def on_mount(self) -> None:
        tr = self.evo.tr
        for bindings in self._bindings.key_to_bindings.values():
            for i, b in enumerate(bindings):
                if b.id:
                    bindings[i] = Binding(b.key, b.action, tr(b.id), id=b.id)
        self.query_one("#probe-help", Static).update(plain(tr("probe.idle"), "dim"))
        self.redraw()

    # -- the link list ----------------------------------------------------------------------
    def shown(self) -> None:
        """The view was switched to: refresh the link list, focus it."""
        self.sync_links()
        self.query_one("#probe-links", OptionList).focus()
        self.redraw()

    def sync_links(self) -> None:
        links = sorted(self.evo.state.links)
        ol = self._link_list()
        if links == self._links or ol is None:
            return
        keep = self.selected_link()
        self._links = links
        ol.clear_options()
        ol.add_options([Option(plain(lk), id=lk) for lk in links])
        if links:
            ol.highlighted = links.index(keep) if keep in links else 0

    def _link_list(self) -> OptionList | None:
        """The list of links, or None while the view is being torn down (a refresh tick
        can come after its children are gone when the app or the demo ends)."""
        found = self.query("#probe-links").results(OptionList)
        return next(iter(found), None)

    def selected_link(self) -> str | None:
        ol = self._link_list()
        if ol is None or ol.highlighted is None or not self._links:
            return None
        return ol.get_option_at_index(ol.highlighted).id

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        link = self.selected_link()
        if (
            self.running is None
            and link is not None
            and (self.last is None or self.last.target != link)
        ):
            self.series, self.lines, self.error, self.last = [], [], "", None
            self.run_worker(
                self._load_last(link), group="probe-history", exclusive=True, exit_on_error=False
            )
        self.redraw()

    async def _load_last(self, link: str) -> None:
        """The link's latest stored result, so it can be seen and exported."""
        api = self.evo.api
        if api is None:
            return
        try:
            runs = await api.probe_results(link)
        except ApiError:
            return  # the connection banner tells
        if runs and self.running is None and self.selected_link() == link and self.last is None:
            self.last = runs[-1]
            self.redraw()

    # -- progress from the live stream ------------------------------------------------------
    def on_progress(self, data: dict[str, Any]) -> None:
        if self.running is None:
            return
        kind, link = self.running
        wire = "accept" if kind == "acceptance" else kind  # the engine's name for the run
        if data.get("target") != link or data.get("kind") != wire:
            return
        phase = data.get("phase")
        if phase == "start":
            run = data.get("run")
            self.run_id = run if isinstance(run, int) else None
        elif self.run_id is not None and data.get("run") != self.run_id:
            return
        if phase == "interval":
            iv = data.get("interval") or {}
            v = iv.get("rtt_mean_ms") if kind == "stamp" else iv.get("bits_per_second")
            if isinstance(v, int | float):
                self.series.append(float(v) if kind == "stamp" else float(v) / 1e6)
        elif phase == "step":
            line, msg = str(data.get("line", "")), data.get("msg")
            if isinstance(msg, dict) and isinstance(msg.get("msg_id"), str):
                params = msg.get("params")
                tr, tz = self.evo.tr, self.evo.event_tz()
                line = msg_text(
                    tr, tz, msg["msg_id"], params if isinstance(params, dict) else {}, line
                )
            self.lines.append(line[:200])
        self.redraw()

    # -- drawing ----------------------------------------------------------------------------
    def redraw(self) -> None:
        if self._link_list() is None:
            return  # being torn down
        tr = self.evo.tr
        t = Text()
        link = self.selected_link()
        if not self._links:
            t.append(tr("probe.no_links"), style="dim")
        elif link is not None:
            t.append_text(plain(link, "bold"))
            lv = self.evo.state.links.get(link)
            if lv is not None:
                t.append(f"  {lv.name}  ", style="dim")
                if lv.capacity_mbps is not None:
                    t.append(f"{lv.capacity_mbps:g} Mbit/s", style="dim")
                t.append(f"\n{tr('probe.proof')}: ", style="bold")
                p = lv.proof
                t.append_text(
                    plain(
                        "-"
                        if p is None
                        else f"{term(tr, p.kind)} {fmt_time(p.ts, self.evo.event_tz())} "
                        + ("✓" if p.passed else "✗" if p.passed is False else "·")
                    )
                )
            t.append("\n")
        if self.running is not None:
            kind, on = self.running
            t.append("\n")
            t.append(tr("probe.running", kind=term(tr, kind), link=on), style="bold yellow")
            t.append("\n")
        if self.series:
            t.append(f"\n{tr('probe.live')} ({self.unit}): ", style="bold")
            t.append(sparkline(self.series, 60), style="cyan")
            t.append(f"  {self.series[-1]:.3f}\n")
        for line in self.lines[-8:]:
            t.append_text(plain(line))
            t.append("\n")
        if self.error:
            t.append(f"\n{tr('probe.failed')}: ", style="bold red")
            t.append_text(plain(self.error))
            t.append("\n")
        if self.last is not None:
            t.append(f"\n{tr('probe.result')} #{self.last.id}\n", style="bold underline")
            for line in summary(self.last, tr, self.evo.event_tz()):
                t.append_text(plain(line))
                t.append("\n")
        self.query_one("#probe-body", Static).update(t)

    # -- runs -------------------------------------------------------------------------------
    def _start(self, kind: str, **kw: Any) -> None:
        app = self.evo
        link = self.selected_link()
        if link is None or app.api is None:
            return
        if self.running is not None:
            app.notify(app.tr("probe.busy"), severity="warning", markup=False)
            return
        self.running = (kind, link)
        self.run_id = None
        self.series, self.lines, self.error = [], [], ""
        self.unit = i18n.render("probe.unit.rtt", {}, app.tr.lang) if kind == "stamp" else "Mbit/s"
        self.redraw()
        self.run_worker(self._run(kind, link, kw), group="probe", exit_on_error=False)

    async def _run(self, kind: str, link: str, kw: dict[str, Any]) -> None:
        api = self.evo.api
        assert api is not None
        try:
            if kind == "stamp":
                run = await api.probe_stamp(link, **kw)
            elif kind == "throughput":
                run = await api.probe_throughput(link, **kw)
            else:
                run = await api.probe_accept(link, **kw)
        except ApiError as exc:
            self.error = self.evo.error_text(exc)
        else:
            self.last = run
        finally:
            self.running = None
            self.redraw()

    def action_probe_stamp(self) -> None:
        self._start("stamp", count=100, interval=0.01)

    def _ask(self, prompt: str, value: str, then: Any) -> None:
        self.app.push_screen(InputScreen(prompt, value), then)

    def action_probe_throughput(self) -> None:
        link = self.selected_link()
        if link is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            parts = text.split()
            try:
                rate, duration = parts[0], float(parts[1]) if len(parts) > 1 else 5.0
                if not _RATE.match(rate) or not 0 < duration <= 3600:
                    raise ValueError
            except (ValueError, IndexError):
                self.evo.notify(self.evo.tr("probe.bad_input", text=text[:40]), markup=False)
                return
            self._start("throughput", rate=rate, duration=duration)

        self._ask(self.evo.tr("probe.rate_q", link=link), "10M 5", done)

    def action_probe_accept(self) -> None:
        link = self.selected_link()
        if link is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                step, hold, *rest = (float(x) for x in text.split())
                tolerance = rest[0] if rest else None
                if (
                    len(rest) > 1
                    or not (0 < step <= 3600 and 0 <= hold <= 86_400)
                    or (tolerance is not None and not 0 <= tolerance <= 50)
                ):
                    raise ValueError
            except ValueError:
                self.evo.notify(self.evo.tr("probe.bad_input", text=text[:40]), markup=False)
                return
            kw: dict[str, float] = {"step_time": step, "hold": hold}
            if tolerance is not None:
                kw["rate_tolerance"] = tolerance  # as the CLI's --rate-tolerance
            self._start("acceptance", **kw)

        self._ask(self.evo.tr("probe.accept_q", link=link), "5 60", done)

    def action_probe_export(self) -> None:
        run = self.last
        if run is None:
            self.evo.notify(self.evo.tr("probe.nothing"), markup=False)
            return

        def done(path: str | None) -> None:
            if path:
                self.run_worker(self._export(run, Path(path)), group="probe-export")

        self._ask(
            self.evo.tr("probe.export_q"),
            f"probe-{run.target.replace(':', '_')}-{run.kind}-{run.id}.json",
            done,
        )

    async def _export(self, run: ProbeRun, path: Path) -> None:
        text = json.dumps(run.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        try:
            await asyncio.to_thread(path.write_text, text, "utf-8")
        except OSError as exc:
            msg = f"{path}: {exc.strerror or exc}"
            self.evo.notify(msg, title=self.evo.tr("error"), severity="error", markup=False)
            return
        self.evo.notify(self.evo.tr("probe.exported", path=str(path)), markup=False)
