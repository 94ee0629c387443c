"""Manual moderation: what communications staff do to posts, audited and undoable.

Every action is one store transaction (:meth:`Store.wall_transaction`): the
check that the action is allowed from the post's state *as it is in that
transaction*, the decision (``actor`` = the user, with the reason), the
post's new state and the audit entry with the state before and after commit
together or not at all. Two moderators acting on the same post at once are
serialised by the store; the second sees the first one's result and gets a
:class:`WallConflict` (a :class:`~eventops.errors.Conflict`, HTTP 409) naming
the post and its state now, never an illegal state. A crash at any point
leaves either the whole decision with its audit entry or nothing.

Undo (:meth:`ManualModeration.undo`) puts a post back as it was before one of
these decisions, if the post has not been decided on since. A decision and
its undo cancel out, so after undoing the newest decision the one before it
can be undone too; an undo is itself a decision that can be undone (which
redoes what it undid). Undoing a block lifts it and restores the posts it hid
that were not decided on since; undoing that lift puts the block back with
its original end (refused once that end has passed) and hides the author's
shown and queued posts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from eventops import timefmt
from eventops.clock import Clock
from eventops.errors import Conflict, NotFound, WallError
from eventops.i18n import Msg, refusal
from eventops.store.base import Store, WallTx
from eventops.store.models import AuthorBlockRow, DecisionRow, PostRow
from eventops.wall.moderation import ModerationChain

MANUAL_ACTIONS = ("approve", "reject", "pin", "unpin", "take_down", "block_author")
DURATION_ACTIONS = ("block_author",)
"""The actions that take a duration (``--for``, ``for_s``): a block lasts until then.
Every other decision holds until someone decides again."""

# action → (states it applies to, new state, new pinned)
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None, bool | None]] = {
    "approve": (("pending", "rejected"), "approved", None),
    "reject": (("pending",), "rejected", False),
    "pin": (("approved",), None, True),
    "unpin": (("approved",), None, False),
    "take_down": (("approved",), "taken_down", False),
}
_UNDOABLE = (*_TRANSITIONS, "block_author", "undo")


class WallConflict(WallError, Conflict):
    """A wall action that the post's (or the wall's) current state does not allow."""


class WallNotFound(WallError, NotFound):
    """No such post or decision."""


def _snapshot(row: PostRow) -> dict[str, Any]:
    return {"state": row.state, "pinned": row.pinned}


def _now_is(row: PostRow) -> Msg:
    """The post's state (and whether pinned) as a message: ``approved and pinned``."""
    return Msg("wall.now_pinned" if row.pinned else "wall.now", {"state": row.state})


def _by(d: DecisionRow) -> Msg:
    """``decision 7: approve by maria`` as a message."""
    return Msg("wall.err.by", {"id": d.id, "action": d.action, "actor": d.actor})


def _conflict(msg: Msg) -> WallConflict:
    return refusal(WallConflict, msg)


def _is_person(actor: str) -> bool:
    return not actor.startswith(("rule:", "source:"))


def live_top(history: Sequence[DecisionRow]) -> DecisionRow | None:
    """The decision that stands on top of a post's history (oldest first).

    A decision and the undo that undid it cancel out (with everything between
    them, which was itself undone before), so the newest decision not inside
    such a pair is the one that shaped the post's state last.
    """
    index = {d.id: i for i, d in enumerate(history)}
    i = len(history) - 1
    while i >= 0:
        d = history[i]
        j = index.get(d.ref) if d.action == "undo" and d.ref is not None else None
        if j is None or j >= i:
            return d
        i = j - 1
    return None


def undoable(history: Sequence[DecisionRow]) -> set[int]:
    """Ids of the decisions that may be undone now: the newest, and the live top."""
    out: set[int] = set()
    if history and history[-1].id is not None:
        out.add(history[-1].id)
    top = live_top(history)
    if top is not None and top.id is not None:
        out.add(top.id)
    return out


MAX_REDO = 1000
"""How many undos of undos of a block are followed back to it (a loop in bad data stops)."""


async def _block_effect(tx: WallTx, d: DecisionRow) -> tuple[str, DecisionRow] | None:
    """Whether decision ``d`` put an author block in place (``"block"``: a block, or the
    undo of its lift) or lifted one (``"lift"``), with the block decision it goes back to;
    None for a decision that touched the post alone."""
    cur: DecisionRow | None = d
    for flips in range(MAX_REDO):
        if cur is None:
            return None
        if cur.action == "block_author":
            return ("block" if flips % 2 == 0 else "lift", cur)
        if cur.action != "undo" or cur.ref is None:
            return None
        cur = await tx.get_decision(cur.ref)
    return None


async def _expect(tx: WallTx, row: PostRow, expect: int | None) -> None:
    """Refuse if someone decided on the post since the decision the person saw."""
    if expect is None:
        return
    history = await tx.decisions(row.id)
    last = history[-1] if history else None
    if (last.id if last else 0) != expect:
        who = Msg("wall.err.who", {"by": _by(last)}) if last else ""
        raise _conflict(
            Msg("wall.err.decided_since", {"post": row.id, "who": who, "now": _now_is(row)})
        )


@dataclass
class _After:
    """What to tell the in-memory rule chain once the transaction has committed."""

    block: tuple[str, datetime | None] | None = None
    unblock: list[str] = field(default_factory=list)


class ManualModeration:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        chain: ModerationChain | None = None,
        *,
        tz: tzinfo = UTC,
    ) -> None:
        self.store = store
        self.clock = clock
        self.chain = chain
        self.tz = tz
        """The event's zone: times in messages are shown in it."""

    @staticmethod
    async def _post(tx: WallTx, post_id: str) -> PostRow:
        row = await tx.get_post(post_id)
        if row is None:
            raise refusal(WallNotFound, Msg("wall.err.no_post", {"post": post_id}))
        return row

    @staticmethod
    def _user(user: str) -> str:
        user = user.strip()
        if not user or not _is_person(user):
            raise WallError(f"user {user!r}: a manual decision needs a person's user name")
        return user

    def _apply(self, after: _After) -> None:
        if self.chain is None:
            return
        if after.block is not None:
            self.chain.block(*after.block)
        for author in after.unblock:
            self.chain.unblock(author)

    async def _record(
        self,
        tx: WallTx,
        row: PostRow,
        user: str,
        action: str,
        why: str | Msg,
        state: str | None,
        pinned: bool | None,
        ref: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Record a decision; ``why`` is the person's reason, or a message the code wrote."""
        reason = why.text("en", self.tz) if isinstance(why, Msg) else why
        decision_id = await tx.decide(
            DecisionRow(
                post_id=row.id,
                ts=self.clock.now(),
                actor=user,
                action=action,
                reason=reason,
                ref=ref,
                **(
                    {"reason_id": why.msg_id, "reason_params": why.as_dict()["params"]}
                    if isinstance(why, Msg)
                    else {}
                ),
            ),
            state,
            pinned,
        )
        after = {"state": state or row.state, "pinned": row.pinned if pinned is None else pinned}
        await tx.audit(
            user,
            f"wall.{action}",
            row.id,
            before=_snapshot(row),
            after={**after, "decision": decision_id, "reason": reason, **(extra or {})},
        )
        return decision_id

    async def decide(
        self,
        post_id: str,
        action: str,
        user: str,
        reason: str = "",
        *,
        expect: int | None = None,
    ) -> int:
        """Approve, reject, pin, unpin or take down a post; return the decision id.

        Raises :class:`WallConflict` if the post's state (as the write finds
        it) does not allow the action, or if ``expect`` (the newest decision
        on the post the person saw) is given and someone decided since;
        :class:`WallNotFound` if there is no such post.
        """
        user = self._user(user)
        if action == "block_author":
            return await self.block_author(post_id, user, reason, expect=expect)
        if action not in _TRANSITIONS:
            raise WallError(f"action {action!r}: not one of {', '.join(MANUAL_ACTIONS)}")
        allowed, state, pinned = _TRANSITIONS[action]

        async def tx_body(tx: WallTx) -> int:
            row = await self._post(tx, post_id)
            await _expect(tx, row, expect)
            if row.data.get("deleted"):
                raise _conflict(Msg("wall.err.deleted", {"post": post_id}))
            if row.state not in allowed:
                verb = Msg(f"wall.verb.{action}")
                raise _conflict(
                    Msg("wall.err.cannot", {"post": post_id, "verb": verb, "now": _now_is(row)})
                )
            if action == "pin" and row.pinned:
                raise _conflict(Msg("wall.err.pinned", {"post": post_id}))
            if action == "unpin" and not row.pinned:
                raise _conflict(Msg("wall.err.not_pinned", {"post": post_id, "state": row.state}))
            return await self._record(tx, row, user, action, reason, state, pinned)

        return await self.store.wall_transaction(tx_body)

    async def block_author(
        self,
        post_id: str,
        user: str,
        reason: str = "",
        until: datetime | None = None,
        *,
        expect: int | None = None,
    ) -> int:
        """Block a post's author (until ``until``) and hide every shown or queued post of theirs."""
        user = self._user(user)
        now = self.clock.now()
        after = _After()

        async def tx_body(tx: WallTx) -> int:
            row = await self._post(tx, post_id)
            await _expect(tx, row, expect)
            if until is not None and until <= now:
                when = timefmt.stamp(until, self.tz, seconds=False)
                msg = Msg("wall.err.expiry_past", {"author": row.author, "until": when})
                raise refusal(WallError, msg)
            block_id = await self._record(
                tx,
                row,
                user,
                "block_author",
                reason,
                "hidden",
                False,
                extra={"until": until.isoformat() if until else None},
            )
            await tx.put_author_block(
                AuthorBlockRow(
                    author=row.author,
                    until=until,
                    actor=user,
                    reason=reason,
                    decision_id=block_id,
                    created_at=now,
                )
            )
            for other in await tx.posts_by_author(row.author, ("approved", "pending")):
                if other.id != row.id:
                    await self._record(
                        tx,
                        other,
                        user,
                        "hide",
                        Msg("wall.why.blocked", {"id": block_id}),
                        "hidden",
                        False,
                        ref=block_id,
                    )
            after.block = (row.author, until)
            return block_id

        block_id = await self.store.wall_transaction(tx_body)
        self._apply(after)
        return block_id

    async def block_key(
        self, author: str, user: str, reason: str = "", until: datetime | None = None
    ) -> None:
        """Block an author key that has no posts yet (audited, one transaction)."""
        user = self._user(user)
        author = author.strip()
        now = self.clock.now()
        if not author:
            raise refusal(WallError, Msg("wall.err.no_author"))
        if until is not None and until <= now:
            when = timefmt.stamp(until, self.tz, seconds=False)
            msg = Msg("wall.err.expiry_past", {"author": author, "until": when})
            raise refusal(WallError, msg)

        async def tx_body(tx: WallTx) -> None:
            await tx.put_author_block(
                AuthorBlockRow(
                    author=author, until=until, actor=user, reason=reason, created_at=now
                )
            )
            await tx.audit(
                user,
                "wall.block",
                author,
                after={"until": until.isoformat() if until else None, "reason": reason},
            )

        await self.store.wall_transaction(tx_body)
        self._apply(_After(block=(author, until)))

    async def undo(self, decision_id: int, user: str, reason: str = "") -> int:
        """Put the post back as it was before decision ``decision_id``; return the undo's id."""
        user = self._user(user)
        after = _After()

        async def tx_body(tx: WallTx) -> int:
            d = await tx.get_decision(decision_id)
            if d is None:
                raise refusal(WallNotFound, Msg("wall.err.no_decision", {"id": decision_id}))
            if d.action not in _UNDOABLE or not _is_person(d.actor):
                raise _conflict(Msg("wall.err.not_undoable", {"id": decision_id}))
            effect = await _block_effect(tx, d)
            if d.action == "undo":
                target = await tx.get_decision(d.ref) if d.ref is not None else None
                if target is None or target.post_id != d.post_id:
                    raise _conflict(Msg("wall.err.undid_gone", {"id": decision_id}))
                if target.action not in _UNDOABLE or not _is_person(target.actor):
                    raise _conflict(Msg("wall.err.undid_block_hide", {"id": decision_id}))
            row = await self._post(tx, d.post_id)
            history = await tx.decisions(d.post_id)
            if decision_id not in undoable(history):
                top = live_top(history)
                undone = next(
                    (r for r in reversed(history) if r.action == "undo" and r.ref == decision_id),
                    None,
                )
                if undone is not None and not any(
                    r.action == "undo" and r.ref == undone.id for r in history
                ):
                    now = _now_is(row)
                    raise _conflict(
                        Msg(
                            "wall.err.undone",
                            {"id": decision_id, "undo": undone.id, "post": d.post_id, "now": now},
                        )
                    )
                hint = (
                    Msg("wall.err.undo_first", {"id": top.id})
                    if top is not None and _is_person(top.actor) and top.action in _UNDOABLE
                    else ""
                )
                by, now = _by(history[-1]), _now_is(row)
                raise _conflict(
                    Msg(
                        "wall.err.since",
                        {"id": decision_id, "post": d.post_id, "by": by, "now": now, "hint": hint},
                    )
                )
            if row.data.get("deleted") and d.prev_state in ("approved", "pending"):
                raise _conflict(Msg("wall.err.deleted_again", {"post": d.post_id}))
            undo_id = await self._record(
                tx,
                row,
                user,
                "undo",
                reason or Msg("wall.why.undo", {"id": decision_id}),
                d.prev_state,
                d.prev_pinned,
                ref=decision_id,
            )
            if effect is not None and effect[0] == "lift":
                await self._block_again(tx, row, user, undo_id, decision_id, effect[1], after)
            elif effect is not None:
                await tx.remove_author_block(row.author)
                after.unblock.append(row.author)
                for hide in await tx.decisions_referencing(decision_id):
                    if hide.action != "hide" or hide.id is None:
                        continue
                    other = await tx.get_post(hide.post_id)
                    if other is None or other.state != "hidden" or other.data.get("deleted"):
                        continue
                    top = live_top(await tx.decisions(other.id))
                    if top is None or top.id != hide.id:
                        continue  # decided on since: leave it as it is
                    await self._record(
                        tx,
                        other,
                        user,
                        "undo",
                        Msg("wall.why.unblocked", {"id": undo_id}),
                        hide.prev_state,
                        hide.prev_pinned,
                        ref=hide.id,
                    )
            return undo_id

        undo_id = await self.store.wall_transaction(tx_body)
        self._apply(after)
        return undo_id

    async def _block_again(
        self,
        tx: WallTx,
        row: PostRow,
        user: str,
        undo_id: int,
        decision_id: int,
        origin: DecisionRow,
        after: _After,
    ) -> None:
        """Undo a lift: the block ``origin`` made, with its end, and its hiding, again."""
        assert origin.id is not None
        now = self.clock.now()
        recorded = await tx.decision_audit(origin.id, "wall.block_author")
        if recorded is None or "until" not in recorded:
            raise _conflict(Msg("wall.err.lift_unrecorded", {"id": decision_id, "post": row.id}))
        raw = recorded["until"]
        until = timefmt.parse(raw) if isinstance(raw, str) else None
        if until is not None and until <= now:
            when = timefmt.stamp(until, self.tz, seconds=False)
            raise _conflict(Msg("wall.err.lift_ended", {"id": decision_id, "until": when}))
        await tx.put_author_block(
            AuthorBlockRow(
                author=row.author,
                until=until,
                actor=user,
                reason=origin.reason,
                decision_id=undo_id,
                created_at=now,
            )
        )
        for other in await tx.posts_by_author(row.author, ("approved", "pending")):
            if other.id != row.id:
                await self._record(
                    tx,
                    other,
                    user,
                    "hide",
                    Msg("wall.why.blocked_again", {"id": undo_id}),
                    "hidden",
                    False,
                    ref=undo_id,
                )
        after.block = (row.author, until)

    async def unblock(self, author: str, user: str, reason: str = "") -> bool:
        """Lift a block without restoring hidden posts (audited); False if none."""
        user = self._user(user)

        async def tx_body(tx: WallTx) -> bool:
            if not await tx.remove_author_block(author):
                return False
            await tx.audit(user, "wall.unblock", author, after={"reason": reason})
            return True

        removed = await self.store.wall_transaction(tx_body)
        if removed:
            self._apply(_After(unblock=[author]))
        return removed
