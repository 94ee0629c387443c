"""The Provision view (``:provision``, technicians only): plan, apply, rollback.

A screen over the engine's provisioning API (:mod:`eventops.server.provision`):

- ``p`` plans: one row per device (what would change, unreachable, dangerous)
  and, for the highlighted device, its diff coloured ``+`` added, ``~``
  changed, ``-`` removed; secrets appear only as "changed";
- ``a`` applies: a yes/no question, or — when the plan has dangerous changes
  — the event id typed as the confirmation; then each device's progress
  arrives on the live stream (``provision`` events) into its row, and the
  report when the run ends;
- ``R`` rolls back: pick a recorded apply, type the event id.

Device names, paths and values are untrusted text: shown with
:func:`~eventops.tui.safe.plain`, never as markup.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from eventops.api import models as m
from eventops.errors import ApiError
from eventops.tui.client import Api, StreamEvent
from eventops.tui.core import Host, host
from eventops.tui.dialogs import ConfirmScreen, InputScreen, PickScreen
from eventops.tui.keybar import KeyBar
from eventops.tui.safe import plain, strip_control
from eventops.tui.tables import fmt_time, localize_bindings

P = "/api/v1/provision"


# the contract's models under this screen's names
PlanChange = m.ChangeView
PlanDevice = m.DevicePlanView
PlanDanger = m.DangerView
Plan = m.PlanView
ApplyRecord = m.ApplyRecordView


class ProvisionApi:
    """The provisioning calls, over the app's :class:`~eventops.tui.client.Api`."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def plan(self, devices: list[str] | None = None) -> Plan:
        return await self.api.provision_plan(devices)

    async def apply(self, devices: list[str] | None, confirm: str | None) -> int:
        """Start an apply; a refusal is an ApiError with the engine's reason."""
        return (await self.api.provision_apply(devices, confirm=confirm or None)).apply_id

    async def rollback(self, apply_id: int, confirm: str) -> int:
        return (await self.api.provision_rollback(apply_id, confirm=confirm)).apply_id

    async def applies(self) -> list[ApplyRecord]:
        return await self.api.provision_applies(30)


OP_STYLE = {"add": ("+", "green"), "change": ("~", "yellow"), "remove": ("-", "red")}
STATE_STYLE = {
    "change": "yellow",
    "unchanged": "green",
    "unreachable": "bold red",
    "error": "bold red",
}
RESULT_STYLE = {"applied": "green", "unchanged": "green", "unknown": "bold red"}


def _value(v: Any) -> str:
    return strip_control(repr(v))


def change_line(c: PlanChange) -> Text:
    mark, style = OP_STYLE.get(c.op, ("?", ""))
    t = Text(no_wrap=True, end="")
    t.append(f"{mark} ", style=f"bold {style}")
    t.append_text(plain(c.path, style))
    if c.secret:
        t.append(": (secret changed)" if c.op == "change" else ": (secret)", style="italic")
    elif c.op == "add":
        t.append_text(plain(f" = {_value(c.new)}", style))
    elif c.op == "remove":
        t.append_text(plain(f" (was {_value(c.old)})", style))
    else:
        t.append_text(plain(f": {_value(c.old)} -> {_value(c.new)}", style))
    return t


class ProvisionScreen(Screen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "app.pop_screen", "back", id="provision.back"),
        Binding("p", "plan", "plan", id="provision.plan"),
    ]
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("a", "apply", "apply", id="provision.apply"),
        Binding("R", "rollback", "rollback", id="provision.rollback", key_display="R"),
    ]
    DEFAULT_CSS = """
    #prov-status { height: auto; max-height: 4; padding: 0 1; border-bottom: solid $primary; }
    #prov-body { height: 1fr; }
    #prov-devices { width: 2fr; min-width: 36; }
    #prov-diff-box { width: 3fr; border-left: solid $primary; }
    #prov-diff { padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.running: int | None = None
        """The apply this screen started and follows."""
        self.kind = "apply"
        """What ``running`` is: an apply or a rollback."""
        self.lost = False
        """The live stream was lost while ``running`` ran (its end may have been missed)."""
        self.progress: dict[str, str] = {}
        """device → its last step or result in the running/last apply."""
        self.results: dict[str, str] = {}
        self.ended: set[int] = set()
        """Runs whose end arrived (the stream may be faster than the POST's answer)."""
        self.status = ""
        self.done = 0
        self.total = 0

    @property
    def evo(self) -> Host:
        return host(self)

    def view_title(self) -> str:
        return self.evo.tr("view.provision")

    @property
    def papi(self) -> ProvisionApi:
        assert self.evo.api is not None
        return ProvisionApi(self.evo.api)

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")
        yield Static(id="prov-status")
        with Horizontal(id="prov-body"):
            yield DataTable(id="prov-devices", cursor_type="row", zebra_stripes=False)
            with VerticalScroll(id="prov-diff-box"):
                yield Static(id="prov-diff")
        yield KeyBar()

    def on_mount(self) -> None:
        app = self.evo
        tr = app.tr
        localize_bindings(self, tr)
        if app.role == "technician":
            for b in self.DANGEROUS:
                self._bindings.key_to_bindings.setdefault(b.key, []).append(
                    Binding(b.key, b.action, tr(b.id or b.action), id=b.id, key_display=b.key)
                )
            self.refresh_bindings()
        table = self.query_one("#prov-devices", DataTable)
        for key, label in (
            ("device", "prov.col.device"),
            ("state", "prov.col.state"),
            ("changes", "prov.col.changes"),
            ("step", "prov.col.step"),
        ):
            table.add_column(tr(label), key=key)
        app.stream_listeners.append(self.on_stream)
        app.state_listeners.append(self.on_connection)
        app.paint_top(self)
        self.status = tr("prov.planning")
        self.redraw()
        self.action_plan()

    def on_unmount(self) -> None:
        listeners = self.evo.stream_listeners
        if self.on_stream in listeners:
            listeners.remove(self.on_stream)
        if self.on_connection in self.evo.state_listeners:
            self.evo.state_listeners.remove(self.on_connection)

    # -- drawing ---------------------------------------------------------------------------------
    def _danger_of(self, device: str) -> list[PlanDanger]:
        return [d for d in (self.plan.dangerous if self.plan else []) if d.device == device]

    def _draw_status(self) -> None:
        tr = self.evo.tr
        st = Text(no_wrap=False)
        st.append_text(plain(self.status, "bold"))
        if self.plan is not None and self.plan.dangerous:
            st.append("\n")
            st.append(
                "⚠ " + tr("prov.dangerous", n=len(self.plan.dangerous)), style="bold white on red"
            )
        self.query_one("#prov-status", Static).update(st)

    def redraw(self) -> None:
        tr = self.evo.tr
        self._draw_status()
        table = self.query_one("#prov-devices", DataTable)
        cursor = table.cursor_row
        table.clear()
        for d in self.plan.devices if self.plan else []:
            danger = bool(self._danger_of(d.device))
            name = plain(("⚠ " if danger else "") + d.device, "bold red" if danger else "")
            state = plain(tr(f"prov.state.{d.state}"), STATE_STYLE.get(d.state, ""))
            n = Text(str(len(d.changes)) if d.changes else "")
            table.add_row(name, state, n, self._step_cell(d.device), key=d.device)
        if self.plan and self.plan.devices:
            table.move_cursor(row=min(max(cursor, 0), len(self.plan.devices) - 1))
        self.show_diff()

    def _step_cell(self, device: str) -> Text:
        step = self.results.get(device) or self.progress.get(device, "")
        return plain(step, RESULT_STYLE.get(step, "cyan"))

    def update_row(self, device: str) -> None:
        """One device's progress: its cell and the status line, not the whole table."""
        table = self.query_one("#prov-devices", DataTable)
        try:
            table.update_cell(device, "step", self._step_cell(device))
        except (CellDoesNotExist, RowDoesNotExist):  # not in the table (yet): draw it all
            self.redraw()
            return
        self._draw_status()

    def show_diff(self) -> None:
        tr = self.evo.tr
        body = self.query_one("#prov-diff", Static)
        if self.plan is None or not self.plan.devices:
            body.update("")
            return
        table = self.query_one("#prov-devices", DataTable)
        row = min(max(table.cursor_row, 0), len(self.plan.devices) - 1)
        d = self.plan.devices[row]
        t = Text()
        t.append_text(plain(d.device, "bold"))
        t.append("\n")
        if d.reason:
            t.append_text(plain(d.reason, "red"))
            t.append("\n")
        if d.state == "unchanged":
            t.append(tr("prov.in_sync"), style="green")
            t.append("\n")
        for c in d.changes:
            t.append_text(change_line(c))
            t.append("\n")
        for dg in self._danger_of(d.device):
            t.append("⚠ ", style="bold red")
            t.append_text(plain((f"{dg.path}: " if dg.path else "") + dg.reason, "bold red"))
            t.append("\n")
        for note in d.notes:
            t.append_text(plain(f"note: {note}", "italic"))
            t.append("\n")
        body.update(t)

    @on(DataTable.RowHighlighted, "#prov-devices")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_diff()

    # -- plan -------------------------------------------------------------------------------------
    def action_plan(self) -> None:
        if self.running is not None:
            return
        self.load_plan()

    @work(exclusive=True, group="provision-plan", exit_on_error=False)
    async def load_plan(self, after: str = "") -> None:
        """Plan (again). ``after``: the status of an apply that just ended — its results
        stay in the progress column and its status in front of the new summary, while
        the plan column shows what is left to change now."""
        tr = self.evo.tr
        lead = f"{after} · " if after else ""
        self.status = lead + tr("prov.planning")
        self.redraw()
        try:
            plan = await self.papi.plan()
        except ApiError as exc:
            self.status = lead + self.evo.error_text(exc)
            self.redraw()
            return
        if self.running is not None:
            return  # an apply started meanwhile: its end plans again
        self.plan = plan
        if not after:
            self.results = {}
            self.progress = {}
        self.status = lead + tr(
            "prov.summary",
            change=plan.summary.change,
            unchanged=plan.summary.unchanged,
            unreachable=plan.summary.unreachable + plan.summary.error,
        )
        self.redraw()

    # -- apply ------------------------------------------------------------------------------------
    def action_apply(self) -> None:
        app, tr = self.evo, self.evo.tr
        if app.role != "technician" or self.running is not None:
            return
        plan = self.plan
        if plan is None or not plan.summary.change:
            app.notify(tr("prov.nothing"), markup=False)
            return
        n = plan.summary.change
        if plan.dangerous:

            def typed(value: str | None) -> None:
                if value is None:
                    return
                self.start_apply(value.strip())

            self.app.push_screen(
                InputScreen(tr("prov.type_confirm", n=len(plan.dangerous), phrase=plan.confirm)),
                typed,
            )
            return

        def yes(ok: bool | None) -> None:
            if ok:
                self.start_apply(None)

        self.app.push_screen(ConfirmScreen(tr("prov.apply_q", n=n)), yes)

    @work(exclusive=True, group="provision-run", exit_on_error=False)
    async def start_apply(self, confirm: str | None) -> None:
        app, tr = self.evo, self.evo.tr
        try:
            apply_id = await self.papi.apply(None, confirm)
        except ApiError as exc:
            app.notify(app.error_text(exc)[:300], severity="error", markup=False)
            return
        self._started(apply_id, tr("prov.applying", id=apply_id))

    def _started(self, apply_id: int, status: str, kind: str = "apply") -> None:
        if apply_id in self.ended:
            return
        if self.running != apply_id:
            self.running = apply_id
            self.kind = kind
            self.lost = False
            self.progress = {}
            self.results = {}
            self.done = 0
        self.status = status
        self.redraw()

    # -- rollback ---------------------------------------------------------------------------------
    def action_rollback(self) -> None:
        if self.evo.role != "technician" or self.running is not None:
            return
        self.pick_rollback()

    @work(exclusive=True, group="provision-run", exit_on_error=False)
    async def pick_rollback(self) -> None:
        app, tr = self.evo, self.evo.tr
        try:
            records = await self.papi.applies()
        except ApiError as exc:
            app.notify(app.error_text(exc)[:300], severity="error", markup=False)
            return
        if not records:
            app.notify(tr("prov.no_applies"), markup=False)
            return
        options = []
        for r in records:
            label = plain(
                f"#{r.id} {r.kind} · {r.actor} · {r.started_at.astimezone(app.event_tz()):%Y-%m-%d} {fmt_time(r.started_at, app.event_tz())} · {r.state or ''} · "
                + ", ".join(f"{v} {k}" for k, v in sorted(r.counts.items()))
            )
            options.append((str(r.id), label))

        def typed(apply_id: int, value: str | None) -> None:
            if value is not None:
                self.start_rollback(apply_id, value.strip())

        def picked(key: str | None) -> None:
            if key is None:
                return
            apply_id = int(key)
            self.app.push_screen(
                InputScreen(
                    tr(
                        "prov.rollback_confirm",
                        id=apply_id,
                        phrase=self.plan.confirm if self.plan else "",
                    )
                ),
                lambda v: typed(apply_id, v),
            )

        self.app.push_screen(PickScreen(tr("prov.rollback_pick"), options), picked)

    @work(exclusive=True, group="provision-rollback", exit_on_error=False)
    async def start_rollback(self, apply_id: int, confirm: str) -> None:
        app, tr = self.evo, self.evo.tr
        try:
            run_id = await self.papi.rollback(apply_id, confirm)
        except ApiError as exc:
            app.notify(app.error_text(exc)[:300], severity="error", markup=False)
            return
        self._started(run_id, tr("prov.rolling_back", id=run_id, of=apply_id), "rollback")

    # -- the live stream ----------------------------------------------------------------------------
    def on_stream(self, ev: StreamEvent) -> None:
        if not ev.type.startswith("provision"):
            return
        d = ev.data.get("data")
        if not isinstance(d, dict):
            return
        apply_id = d.get("apply_id")
        tr = self.evo.tr
        if ev.type == "provision":
            if d.get("phase") == "start" and isinstance(apply_id, int) and self.running is None:
                # an apply started elsewhere (the CLI through this engine, a colleague)
                kind = "rollback" if d.get("kind") == "rollback" else "apply"
                self._started(apply_id, tr("prov.applying", id=apply_id), kind)
            if apply_id != self.running and self.running is not None:
                return
            dev = d.get("device")
            total = d.get("total")
            if isinstance(total, int) and total:
                self.total = total
            if isinstance(dev, str):
                if d.get("phase") == "done":
                    self.results[dev] = strip_control(d.get("result") or "")
                    self.done = int(d.get("done") or self.done)
                else:
                    self.progress[dev] = strip_control(d.get("phase") or "")
            self.status = tr("prov.progress", id=apply_id, done=self.done, total=self.total)
            if isinstance(dev, str):
                self.update_row(dev)
            else:
                self.redraw()
        elif (
            ev.type in ("provision.finished", "provision.failed")
            and isinstance(apply_id, int)
            and apply_id == self.running
        ):
            self.ended.add(apply_id)
            self.running = None
            self.lost = False
            if ev.type == "provision.finished":
                self.status = f"#{apply_id}: {strip_control(d.get('summary', ''))}"
                ok = bool(d.get("ok"))
                self.evo.notify(
                    self.status[:300], severity="information" if ok else "warning", markup=False
                )
            else:
                self.status = f"#{apply_id}: {strip_control(d.get('reason', ''))}"
                self.evo.notify(self.status[:300], severity="error", markup=False)
            self.redraw()
            self.load_plan(after=self.status)  # the plan column: what is left to change now

    # -- the stream lost during a run: say what that means for it ------------------------------------
    def on_connection(self) -> None:
        """The stream was lost, the engine checked, or the stream is back (the app's
        ``connected``/``alive`` say which): a run in progress says truthfully what is known
        of it — "engine unreachable; state unknown" or "engine alive; it continues" — and
        once the stream is back, the engine's record says whether it ended meanwhile."""
        app, tr = self.evo, self.evo.tr
        if self.running is None:
            return
        what = tr(f"prov.what.{self.kind}")
        if not app.connected:
            self.lost = True
            if app.alive is False:
                url = app.api.base_url if app.api is not None else "-"
                self.status = tr(
                    "prov.lost_down", what=what, id=self.running, url=url, reason=app.down_reason
                )
            elif app.alive is True:
                self.status = tr("prov.lost_alive", what=what, id=self.running)
            else:
                self.status = tr("prov.lost", what=what, id=self.running)
            self._draw_status()
        elif self.lost:
            self.lost = False
            self.status = tr("prov.back", what=what, id=self.running)
            self._draw_status()
            self.catch_up(self.running)

    @work(exclusive=True, group="provision-catch-up", exit_on_error=False)
    async def catch_up(self, apply_id: int) -> None:
        """After a lost stream: did the run end meanwhile? (Its end event may be gone.)"""
        app, tr = self.evo, self.evo.tr
        assert app.api is not None
        try:
            detail = await app.api.provision_apply_detail(apply_id)
        except ApiError as exc:
            if self.running == apply_id:
                self.status = f"#{apply_id}: {self.evo.error_text(exc)}"
                self._draw_status()
            return
        if self.running != apply_id or apply_id in self.ended:
            return  # the stream told its end meanwhile (or another run is followed)
        if detail.finished_at is None:
            self.status = tr("prov.progress", id=apply_id, done=self.done, total=self.total)
            self._draw_status()
            return
        self.ended.add(apply_id)
        self.running = None
        for r in detail.results:
            self.results[r.device] = strip_control(r.result)
        counts = ", ".join(f"{v} {strip_control(k)}" for k, v in sorted(detail.counts.items()))
        self.status = tr(
            "prov.ended_meanwhile",
            what=tr(f"prov.what.{self.kind}"),
            id=apply_id,
            state=strip_control(detail.state or ""),
            counts=counts,
        )
        app.notify(self.status[:300], markup=False)
        self.redraw()
        self.load_plan(after=self.status)
