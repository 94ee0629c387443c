"""The wall view: the moderation queue, the preview, decisions, announcements and pause."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.widgets import DataTable, Static

from eventops import i18n
from eventops.errors import ApiError
from eventops.tui.client import WallPost
from eventops.tui.core import CoreApp
from eventops.tui.dialogs import ConfirmScreen, PickScreen
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain, strip_control
from eventops.tui.tables import RowTable, fmt_time, msg_text, term

WALL_STATES = ("pending", "approved", "all")
"""What the wall view cycles through with ``v``."""

WALL_STYLE = {
    "pending": "yellow",
    "approved": "green",
    "rejected": "dim",
    "hidden": "dim",
    "taken_down": "bold red",
}


def rule_note(p: WallPost, tr: Tr, tz: tzinfo | None) -> str:
    """Who or which rule decided last, and why, in the app's language (a rule's name and
    reason from the catalogue; a person's name and typed reason as they are)."""
    d = p.last_decision
    if d is None:
        return ""
    rule = d.actor.removeprefix("rule:")
    who = d.actor if rule == d.actor else rule
    if tr.lang != "en" and d.actor.startswith(("rule:", "source:")):
        kind, _, name = d.actor.partition(":")
        who = i18n.render(f"wall.actor.{kind}", {kind: name}, tr.lang, fallback=who)
    why = msg_text(tr, tz, d.reason_id, d.reason_params, d.reason)
    return f"{who}: {why}" if why else who


def media_note(p: WallPost, tr: Tr | None = None) -> str:
    """The attached media by kind (``2× photo``), the kinds in the app's language."""
    kinds = p.media_kinds()
    named = (lambda k: k) if tr is None else (lambda k: term(tr, k))
    return ", ".join(f"{n}× {named(k)}" for k, n in sorted(Counter(kinds).items()))


class WallTable(RowTable[WallPost]):
    """The wall's moderation queue; the mutating keys are bound for comms only."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("v", "app.wall_states", "states", id="wall.states"),
    ]
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("a", "app.wall_approve", "approve", id="wall.approve"),
        Binding("r", "app.wall_reject", "reject", id="wall.reject"),
        Binding("p", "app.wall_pin", "pin", id="wall.pin"),
        Binding("t", "app.wall_take_down", "take down", id="wall.take_down"),
        Binding("b", "app.wall_block", "block author", id="wall.block"),
        Binding("u", "app.wall_undo", "undo", id="wall.undo"),
    ]
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("time", "col.time"),
        ("state", "col.state"),
        ("author", "col.author"),
        ("text", "col.text"),
        ("media", "col.media"),
        ("rule", "col.rule"),
    ]
    SORTS: ClassVar[list[str]] = ["time", "author"]
    SHRINK: ClassVar[dict[str, int]] = {"text": 20, "rule": 10, "author": 10}
    DROP: ClassVar[tuple[str, ...]] = ("rule", "media")

    def items(self) -> Mapping[str, WallPost]:
        return self.state.wall_posts

    def zone_ref(self) -> datetime | None:
        # comms have no device data: the posts' own times decide CET or CEST
        posts = self.state.wall_posts.values()
        return self.state.as_of or max((p.created_at for p in posts), default=None)

    def cells(self, key: str, p: WallPost) -> tuple[Text, ...]:
        state = self.tr(f"wall.state.{p.state}") + (" 📌" if p.pinned else "")
        return (
            plain(fmt_time(p.created_at, self.tz, zone=False)),
            plain(state, WALL_STYLE.get(p.state, "")),
            plain(p.author.split(":", 1)[-1], "bold"),
            plain(p.text[:60]),
            plain(media_note(p, self.tr) or "-", "dim"),
            plain(rule_note(p, self.tr, self.tz)[:40], "dim"),
        )

    def sort_key(self, key: str, p: WallPost) -> Any:
        if self.sort_by == "author":
            return p.author
        return p.created_at.timestamp()

    def search_text(self, key: str, p: WallPost) -> str:
        return f"{p.author} {p.author_name} {p.text} {p.state} {rule_note(p, self.tr, self.tz)}"


TableFactory = Callable[..., RowTable[Any]]


class WallActions(CoreApp):
    """The wall: queue (re-read on the stream's ``wall`` events), decisions (comms),
    announcements (comms, authorities)."""

    async def probe_wall(self) -> bool:
        """Whether the engine has the wall mounted (its announcements answer)."""
        if self.api is None:
            return False
        try:
            ann = await self.api.wall_announcements()
        except ApiError as exc:
            return exc.status != 404  # anything but "not here" is a passing problem
        self.state.set_announcements(ann.active, ann.templates, ann.paused)
        return True

    def bind_announcement_keys(self) -> None:
        """Announcements (comms, authorities) and pause (comms): only for roles that may."""
        keys = [
            Binding("n", "announce", self.tr("wall.announce"), id="wall.announce"),
            Binding("w", "withdraw", self.tr("wall.withdraw"), id="wall.withdraw"),
            Binding("P", "pause_wall", self.tr("wall.pause"), id="wall.pause", key_display="P"),
        ]
        for b in keys:
            if self.may(b.action):
                self._bindings.key_to_bindings.setdefault(b.key, []).append(b)
        self.refresh_bindings()

    @work(exclusive=True, group="wall-poll", exit_on_error=False)
    async def poll_wall(self) -> None:
        """Re-read the queue and the announcement: once the role is known, after a
        ``wall`` event on the live stream, on a mode change (no timer: the engine
        tells when the wall changed, also for posts that arrive from the sources)."""
        await self.refresh_wall()

    async def refresh_wall(self) -> None:
        if self.api is None:
            return
        try:
            if "wall" in self.views:
                posts = await self.api.wall_queue(self.wall_state, limit=1000)
                if self.wall_state != "pending":
                    pending = len(await self.api.wall_queue("pending", limit=1000))
                else:
                    pending = len(posts)
                self.state.set_wall_posts(posts)
                self.state.set_wall_pending(pending)
            ann = await self.api.wall_announcements()
        except ApiError:
            return  # the connection banner tells; the next poll tries again
        self.state.set_announcements(ann.active, ann.templates, ann.paused)

    @on(DataTable.RowHighlighted, "#wall-table")
    def wall_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_preview()

    def show_preview(self) -> None:
        """The post under the cursor in full: text, author, media, the rule that decided."""
        tr = self.tr
        for preview in self.query("#wall-preview"):
            assert isinstance(preview, Static)
            table = self.query_one(WallTable)
            key = table.current_key()
            post = self.state.wall_posts.get(key) if key else None
            if post is None:
                preview.update(plain(tr("wall.empty"), "dim"))
                continue
            t = Text()
            t.append_text(plain(post.author_name or post.author, "bold"))
            t.append_text(plain(f"  {post.author}  ·  {post.source}  ·  ", "dim"))
            t.append(fmt_time(post.created_at, self.event_tz()), style="dim")
            t.append("  ")
            t.append(tr(f"wall.state.{post.state}") + (" 📌" if post.pinned else ""), style="bold")
            t.append("\n")
            t.append(strip_control(post.text))  # Text.append: never parsed as markup
            t.append("\n")
            t.append(f"{tr('col.media')}: ", style="bold")
            t.append_text(plain(media_note(post, tr) or tr("none")))
            t.append(f"   {tr('col.rule')}: ", style="bold")
            t.append_text(plain(rule_note(post, tr, self.event_tz()) or "-"))
            preview.update(t)

    def action_wall_states(self) -> None:
        """Cycle which posts the wall view lists: pending, approved, all."""
        i = WALL_STATES.index(self.wall_state) if self.wall_state in WALL_STATES else 0
        self.wall_state = WALL_STATES[(i + 1) % len(WALL_STATES)]
        self.notify(
            self.tr("wall.showing", state=self.tr(f"wall.state.{self.wall_state}")),
            timeout=2,
            markup=False,
        )
        self.paint_top(self.screen)  # the header names the list shown
        self.poll_wall()  # restart the poll: the new list at once

    def _wall_selection(self) -> list[WallPost]:
        table = self.current_table()
        if not isinstance(table, WallTable):
            return []
        return [
            self.state.wall_posts[k] for k in table.selected_keys() if k in self.state.wall_posts
        ]

    def action_wall_approve(self) -> None:
        self._wall_decide("approve")

    def action_wall_reject(self) -> None:
        self._wall_decide("reject")

    def action_wall_pin(self) -> None:
        self._wall_decide("pin")

    def action_wall_take_down(self) -> None:
        self._wall_decide("take_down")

    def _wall_decide(self, action: str) -> None:
        if not self.may("wall_" + action.removesuffix("_author")):
            return
        posts = self._wall_selection()
        if posts:
            self.do_wall_decide(posts, action)

    def action_wall_block(self) -> None:
        """Block the author of the post under the cursor (hides all their posts; undoable)."""
        if not self.may("wall_block"):
            return
        table = self.current_table()
        key = table.current_key() if isinstance(table, WallTable) else None
        post = self.state.wall_posts.get(key or "")
        if post is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.do_wall_decide([post], "block_author")

        q = self.tr("wall.block_q", author=strip_control(post.author))
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_wall_decide(self, posts: list[WallPost], action: str) -> None:
        assert self.api is not None
        done: list[int] = []
        for post in posts:
            act = "unpin" if action == "pin" and post.pinned else action
            try:
                did = await self.api.wall_decide(post.id, act)
            except ApiError as exc:
                self.notify(
                    self.error_text(exc), title=self.tr("error"), severity="error", markup=False
                )
                continue
            if did is not None:
                done.append(did)
        if done:
            self.wall_undo.append(done)
        for table in self.query(WallTable):
            table.marked.clear()
        self.notify(
            self.tr("wall.done", n=len(done), action=self.tr(f"wall.did.{action}")), markup=False
        )
        await self.refresh_wall()
        self.flush()

    def action_wall_undo(self) -> None:
        if not self.may("wall_undo"):
            return
        if not self.wall_undo:
            self.notify(self.tr("wall.nothing_to_undo"), severity="warning", markup=False)
            return
        self.do_wall_undo(self.wall_undo.pop())

    @work(group="actions", exit_on_error=False)
    async def do_wall_undo(self, ids: list[int]) -> None:
        assert self.api is not None
        n = 0
        for did in reversed(ids):
            try:
                await self.api.wall_undo(did)
            except ApiError as exc:
                self.notify(
                    self.error_text(exc), title=self.tr("error"), severity="error", markup=False
                )
                continue
            n += 1
        self.notify(self.tr("wall.undone", n=n), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_announce(self) -> None:
        """Pick one of the profile's templates, confirm, issue it on every screen."""
        if not self.may("announce"):
            return
        lang = self.tr.lang
        templates = {a.id: a for a in self.state.templates}
        if not templates:
            self.notify(self.tr("wall.no_templates"), severity="warning", markup=False)
            return
        options = []
        for a in templates.values():
            label = plain(a.title(lang), "bold")
            label.append_text(plain(f"  {a.text(lang)[:60]}", "dim"))
            options.append((a.id, label))

        def confirmed(yes: bool | None, ann_id: str) -> None:
            if yes:
                self.do_announce(ann_id)

        def picked(ann_id: str | None) -> None:
            if ann_id is None or ann_id not in templates:
                return
            q = self.tr("wall.announce_q", title=strip_control(templates[ann_id].title(lang)))
            self.push_screen(
                ConfirmScreen(q + " " + self.tr("confirm.yn")),
                partial(confirmed, ann_id=ann_id),
            )

        self.push_screen(PickScreen(self.tr("wall.pick"), options), picked)

    @work(group="actions", exit_on_error=False)
    async def do_announce(self, ann_id: str) -> None:
        assert self.api is not None
        try:
            await self.api.wall_issue(ann_id)
        except ApiError as exc:
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
            return
        self.notify(self.tr("wall.announced"), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_withdraw(self) -> None:
        if not self.may("withdraw"):
            return
        ann = self.state.announcement
        if ann is None:
            self.notify(self.tr("wall.no_announcement"), severity="warning", markup=False)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.do_withdraw()

        q = self.tr("wall.withdraw_q", title=strip_control(ann.title(self.tr.lang)))
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_withdraw(self) -> None:
        assert self.api is not None
        try:
            await self.api.wall_withdraw()
        except ApiError as exc:
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
            return
        self.notify(self.tr("wall.withdrawn"), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_pause_wall(self) -> None:
        if not self.may("pause_wall"):
            return
        on = not self.state.wall_paused

        def done(yes: bool | None) -> None:
            if yes:
                self.do_pause(on)

        q = self.tr("wall.pause_q" if on else "wall.resume_q")
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_pause(self, on: bool) -> None:
        assert self.api is not None
        try:
            await self.api.wall_pause(on)
        except ApiError as exc:
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
            return
        await self.refresh_wall()
        self.flush()
