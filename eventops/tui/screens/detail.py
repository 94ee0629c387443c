"""One device or link in detail: facts, checks, links, alerts, history, last polled status."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from eventops.errors import ApiError
from eventops.tui.client import DeviceDetail, DeviceView
from eventops.tui.core import Host, host
from eventops.tui.i18n import Tr
from eventops.tui.keybar import KeyBar
from eventops.tui.safe import plain, strip_control
from eventops.tui.state import device_state, sparkline
from eventops.tui.tables import (
    HEALTH_STYLE,
    alert_text,
    check_text,
    device_reason,
    fmt_time,
    link_reason,
    localize_bindings,
    msg_text,
    num,
    oper_text,
    term,
)


def metric_label(tr: Tr, metric: str) -> str:
    """A history series' name in the app's language (``rx_dbm.<port>`` names its port)."""
    name, _, port = metric.partition(".")
    if name == "rx_dbm" and port:
        return tr("metric.rx_dbm", port=strip_control(port)[:8])
    key = f"metric.{metric}"
    return tr(key) if key in tr.keys else strip_control(metric)[:14]


DEVICE_VERBS = frozenset({"reboot"})
"""Device actions that are driver verbs: offered only where the driver declares them."""


def offers(device: DeviceView | None, action: str) -> bool:
    """The device's driver offers this action (actions that are not driver verbs: always).

    A device view without capabilities (an engine older than them) offers no verb: the
    TUI binds only what it knows the device can do."""
    if action not in DEVICE_VERBS:
        return True
    caps = device.capabilities if device is not None else None
    return caps is not None and bool(getattr(caps, action, False))


def capability_names(device: DeviceView) -> list[str]:
    """The verbs the device's driver declares, by their field names."""
    caps = device.capabilities
    if caps is None:
        return []
    return [name for name, on in caps.model_dump().items() if on is True]


class DetailScreen(Screen[None]):
    """One device or link: facts, checks, its links, recent alerts, a chart."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "app.pop_screen", "back", id="detail.back")]

    def __init__(self, kind: str, key: str) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.history: dict[str, list[float]] = {}
        self.detail: DeviceDetail | None = None
        """The device's last polled status (radios, clients, interfaces, optics)."""

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")
        with VerticalScroll():
            yield Static(id="detail-body")
        yield KeyBar()

    def on_mount(self) -> None:
        app = self.evo
        localize_bindings(self, app.tr)
        if self.kind == "device":
            for key, action in (("m", "maintenance"), ("R", "reboot")):
                # dangerous: absent for roles that may not, and for devices that cannot
                if app.may(action) and offers(app.state.devices.get(self.key), action):
                    self._bindings.key_to_bindings.setdefault(key, []).append(
                        Binding(
                            key, f"app.{action}", app.tr(f"device.{action}"), id=f"device.{action}"
                        )
                    )
            self.refresh_bindings()
        if self.kind == "link" and app.may("handover"):
            self._bindings.key_to_bindings.setdefault("h", []).append(
                Binding("h", "app.handover", app.tr("link.handover"), id="link.handover")
            )
            self.refresh_bindings()
        app.paint_top(self)
        self.redraw()
        self.load_history()
        self.load_status()

    @work(exclusive=True, group="status")
    async def load_status(self) -> None:
        """Fetch the device's last polled status (again, after it changed)."""
        app = self.evo
        if self.kind != "device" or app.api is None:
            return
        try:
            self.detail = await app.api.device(self.key)
        except ApiError:
            return  # shown without it; the next change tries again
        self.redraw()

    @property
    def evo(self) -> Host:
        return host(self)

    def view_title(self) -> str:
        """The header's view name: what this is and which."""
        return f"{self.evo.tr('view.' + self.kind)} {strip_control(self.key)[:32]}"

    @work(exclusive=True, group="history")
    async def load_history(self) -> None:
        app = self.evo
        if self.kind != "device" or app.api is None:
            return
        ports = [
            end.port
            for lk in app.state.links.values()
            for end in (lk.a, lk.b)
            if end is not None and end.device == self.key
        ]
        metrics = ["clients.2g", "clients.5g", "load1", *(f"rx_dbm.{p}" for p in ports), "poll_s"]
        for metric in metrics:
            try:
                pts = await app.api.history(self.key, metric)
            except ApiError:
                continue
            if pts:
                self.history[metric] = [v for _, v in pts]
        self.redraw()

    def redraw(self) -> None:
        if not self.query("#detail-body"):
            return  # not composed yet (a refresh tick right after the push)
        app = self.evo
        tr, tz, st = app.tr, app.event_tz(), app.state
        t = Text()

        def row(label: str, value: Text | str) -> None:
            t.append(f"{tr(label):<18}", style="bold")
            t.append_text(value if isinstance(value, Text) else plain(value))
            t.append("\n")

        if self.kind == "device":
            d = st.devices.get(self.key)
            if d is None:
                t.append(tr("detail.gone"), style="yellow")
                self.query_one("#detail-body", Static).update(t)
                return
            ds = device_state(d)
            row("col.id", plain(d.id, "bold"))
            row("col.kind", d.kind)
            row("col.site", d.site or "-")
            row("col.state", plain(tr(f"state.{ds}"), HEALTH_STYLE[ds]))
            row("col.reason", device_reason(tr, tz, d))
            row("col.since", fmt_time(d.since, tz))
            row("col.clients", "-" if d.clients is None else str(d.clients))
            row("col.uptime", "-" if d.uptime_s is None else f"{d.uptime_s / 3600:.1f} h")
            row("detail.uplink", d.uplink or "-")
            row("detail.maintenance", tr("yes") if d.maintenance else tr("no"))
            caps = capability_names(d)
            row("detail.caps", ", ".join(tr(f"cap.{c}") for c in caps) or "-")
            row("detail.as_of", fmt_time(d.as_of, tz) + (f"  {tr('stale')}" if d.stale else ""))
            checks = d.checks
            links = [
                lk
                for lk in st.links.values()
                if self.key in (lk.a.device if lk.a else "", lk.b.device if lk.b else "")
            ]
        else:
            lk0 = st.links.get(self.key)
            if lk0 is None:
                t.append(tr("detail.gone"), style="yellow")
                self.query_one("#detail-body", Static).update(t)
                return
            row("col.id", plain(lk0.id, "bold"))
            row("col.name", lk0.name)
            row(
                "col.state",
                plain(
                    tr(f"state.{lk0.state}")
                    if lk0.state in ("up", "down", "degraded")
                    else tr("state.unknown"),
                    HEALTH_STYLE.get(lk0.state, "dim"),
                ),
            )
            row("col.reason", link_reason(tr, tz, lk0))
            row("col.since", fmt_time(lk0.since, tz))
            ends = " ↔ ".join(f"{e.device}:{e.port}" for e in (lk0.a, lk0.b) if e)
            row("detail.ends", ends)
            traffic = (
                f"{num(lk0.in_mbps)} / {num(lk0.out_mbps)} Mbit/s, "
                f"{num(lk0.utilisation_pct, '{:.0f}')} %"
            )
            if lk0.rate_note:  # marked: why there is no figure (a reset, a clock jump ...)
                why = {"msg_id": lk0.rate_note_id, "params": lk0.rate_note_params}
                said = msg_text(tr, tz, "rate.unavailable" if lk0.rate_note_id else None,
                                {"why": why}, f"no rate: {lk0.rate_note}")  # fmt: skip
                traffic += f" ({said})"
            row("detail.traffic", traffic)
            row("col.rx", f"{num(lk0.rx_min)} dBm  {sparkline(st.rx.get(lk0.id, []), 20)}")
            row("col.margin", f"{num(lk0.margin_db)} dB")
            row("col.handed", lk0.handed_to or "-")
            if lk0.proof is not None:
                p = lk0.proof
                verdict = tr("yes") if p.passed else tr("no") if p.passed is False else "-"
                row(
                    "detail.proof",
                    f"{fmt_time(p.ts, tz)} {term(tr, p.kind)} {num(p.throughput_mbps)} Mbit/s "
                    f"✓={verdict}",
                )
            else:
                row("detail.proof", "-")
            checks = lk0.checks
            links = []
        if self.history:
            t.append(f"\n{tr('detail.history')}\n", style="bold underline")
            for metric, vals in self.history.items():
                t.append_text(plain(f"  {metric_label(tr, metric):<16} "))
                t.append(sparkline(vals, 40), style="cyan")
                t.append("\n")
        t.append(f"\n{tr('detail.checks')}\n", style="bold underline")
        for c in checks:
            t.append("  ")
            t.append(
                f"{tr('sev.' + c.level) if c.level != 'ok' else 'ok':<9}",
                style=HEALTH_STYLE.get(c.level, ""),
            )
            # the check's name is an identifier (for silences, scripts): shown in English only
            named = tr.lang == "en" or not c.msg_id
            t.append_text(plain(f"{c.name}: " if named else "", "dim"))
            t.append_text(plain(check_text(tr, tz, c)))
            t.append("\n")
        if self.kind == "device" and self.detail is not None:
            self._status_sections(t)
        if links:
            t.append(f"\n{tr('detail.links')}\n", style="bold underline")
            for lk in links:
                t.append("  ")
                t.append_text(plain(lk.id, "bold"))
                t.append(
                    f"  {tr('state.' + lk.state) if lk.state in ('up', 'down', 'degraded') else '-'}",
                    style=HEALTH_STYLE.get(lk.state, "dim"),
                )
                t.append(f"  rx {num(lk.rx_min)} dBm  {tr('col.margin')} {num(lk.margin_db)} dB\n")
        t.append(f"\n{tr('detail.alerts')}\n", style="bold underline")
        mine = [a for a in st.alerts.values() if a.subject == self.key]
        if not mine:
            t.append(f"  {tr('none')}\n", style="dim")
        for a in sorted(mine, key=lambda a: a.raised_at, reverse=True)[:10]:
            t.append(f"  {fmt_time(a.raised_at, tz)} ")
            t.append(f"{tr('sev.' + a.severity):<9}", style=HEALTH_STYLE[a.severity])
            t.append_text(plain(alert_text(tr, tz, a)))
            t.append("\n")
        self.query_one("#detail-body", Static).update(t)

    def _status_sections(self, t: Text) -> None:
        """Facts, radios, clients, interfaces and optics from the last poll."""
        tr, det = self.evo.tr, self.detail
        assert det is not None

        def head(key: str) -> None:
            t.append(f"\n{tr(key)}\n", style="bold underline")

        def cols(values: list[tuple[object, int]], style: str = "") -> None:
            t.append("  ")
            for v, w in values:
                t.append_text(plain(f"{strip_control(v)[: abs(w)]:<{abs(w)}} ", style))
            t.append("\n")

        if det.facts is not None:
            f = det.facts
            head("detail.facts")
            cols([(f.hostname or "-", 24), (f.vendor, 12), (f.model, 20)])
            cols([(f.firmware or "-", 24), (f.serial or "-", 33)], "dim")
        if det.radios:
            head("detail.radios")
            cols(
                [(tr(k), w) for k, w in RADIO_COLS],
                "bold",
            )
            for r in det.radios:
                cols(
                    [
                        (r.name, 12),
                        (r.ssid, 20),
                        (r.band or "-", 4),
                        (num(r.channel, "{:.0f}"), 4),
                        (num(r.width_mhz, "{:.0f}"), 5),
                        (num(r.tx_power_dbm, "{:.0f}"), 5),
                        (num(r.noise_dbm, "{:.0f}"), 6),
                        (num(r.utilisation_pct, "{:.0f}"), 5),
                        (len(r.clients), 4),
                    ],
                    "" if r.up else "red",
                )
            clients = [(r, c) for r in det.radios for c in r.clients]
            head("detail.wlan_clients")
            if not clients:
                t.append(f"  {tr('none')}\n", style="dim")
            else:
                cols([(tr(k), w) for k, w in CLIENT_COLS], "bold")
            for r, c in sorted(clients, key=lambda rc: rc[1].signal_dbm or -200.0)[:50]:
                sig = c.signal_dbm
                style = "" if sig is None or sig >= -70 else "yellow" if sig >= -80 else "red"
                cols(
                    [
                        (c.mac, 18),
                        (r.name, 12),
                        (num(sig, "{:.0f}"), 6),
                        (num(None if c.rx_rate_kbps is None else c.rx_rate_kbps / 1000), 8),
                        (num(None if c.tx_rate_kbps is None else c.tx_rate_kbps / 1000), 8),
                    ],
                    style,
                )
        if det.interfaces:
            head("detail.interfaces")
            cols([(tr(k), w) for k, w in IFACE_COLS], "bold")
            for i in det.interfaces:
                up = i.oper_status.upper() == "UP"
                cols(
                    [
                        (i.name, 14),
                        (oper_text(tr, i.oper_status), 8),
                        (num(i.speed_mbps, "{:.0f}"), 7),
                        (i.in_errors + i.in_fcs_errors, 8),
                        (i.out_errors, 8),
                        (i.carrier_transitions, 6),
                    ],
                    "" if up else "yellow",
                )
        if det.optics:
            head("detail.optics")
            cols([(tr(k), w) for k, w in OPTIC_COLS], "bold")

            def lanes(v: tuple[float, ...]) -> str:
                return "/".join(f"{x:.1f}" for x in v) or "-"

            for o in det.optics:
                cols(
                    [
                        (o.port, 14),
                        (lanes(o.rx_power_dbm), 12),
                        (lanes(o.tx_power_dbm), 12),
                        (lanes(o.laser_bias_ma), 10),
                        (num(o.temperature_c), 6),
                        (num(o.margin_db), 7),
                        (o.link or "", 16),
                    ]
                )
                if o.peer is not None:
                    p = o.peer
                    cols([(f"  ↔ {p.device}:{p.port}", 60)], "dim")
                    cols(
                        [
                            ("", 14),
                            (lanes(p.rx_power_dbm), 12),
                            (lanes(p.tx_power_dbm), 12),
                            (lanes(p.laser_bias_ma), 10),
                            (num(p.temperature_c), 6),
                            (num(p.margin_db), 7),
                        ],
                        "dim",
                    )


RADIO_COLS = [
    ("detail.col.iface", 12),
    ("detail.col.ssid", 20),
    ("detail.col.band", 4),
    ("detail.col.channel", 4),
    ("detail.col.width", 5),
    ("detail.col.txpower", 5),
    ("detail.col.noise", 6),
    ("detail.col.util", 5),
    ("col.clients", 4),
]
CLIENT_COLS = [
    ("detail.col.mac", 18),
    ("detail.col.iface", 12),
    ("detail.col.signal", 6),
    ("detail.col.rx_rate", 8),
    ("detail.col.tx_rate", 8),
]
IFACE_COLS = [
    ("detail.col.iface", 14),
    ("detail.col.oper", 8),
    ("detail.col.speed", 7),
    ("detail.col.in_err", 8),
    ("detail.col.out_err", 8),
    ("detail.col.flaps", 6),
]
OPTIC_COLS = [
    ("detail.col.port", 14),
    ("detail.col.rx", 12),
    ("detail.col.tx", 12),
    ("detail.col.bias", 10),
    ("detail.col.temp", 6),
    ("col.margin", 7),
    ("detail.col.link", 16),
]
