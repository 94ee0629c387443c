"""Manual moderation: what communications staff do to posts, audited and undoable.

Every action records a decision (``actor`` = the user, with the reason) that
changes the post's state in the same transaction, and appends an audit
entry with the state before and after. :meth:`ManualModeration.undo` puts a
post back as it was before one of these decisions, if nothing decided about
the post since; undoing a block lifts it and restores the posts it hid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.store.base import Store
from eventops.store.models import AuthorBlockRow, DecisionRow, PostRow
from eventops.wall.moderation import ModerationChain

MANUAL_ACTIONS = ("approve", "reject", "pin", "unpin", "take_down", "block_author")

# action → (states it applies to, new state, new pinned)
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None, bool | None]] = {
    "approve": (("pending", "rejected"), "approved", None),
    "reject": (("pending",), "rejected", False),
    "pin": (("approved",), None, True),
    "unpin": (("approved",), None, False),
    "take_down": (("approved",), "taken_down", False),
}


def _snapshot(row: PostRow) -> dict[str, Any]:
    return {"state": row.state, "pinned": row.pinned}


class ManualModeration:
    def __init__(self, store: Store, clock: Clock, chain: ModerationChain | None = None) -> None:
        self.store = store
        self.clock = clock
        self.chain = chain

    async def _post(self, post_id: str) -> PostRow:
        row = await self.store.get_post(post_id)
        if row is None:
            raise WallError(f"post {post_id}: no such post")
        return row

    @staticmethod
    def _user(user: str) -> str:
        user = user.strip()
        if not user or user.startswith(("rule:", "source:")):
            raise WallError(f"user {user!r}: a manual decision needs a person's user name")
        return user

    async def _record(
        self,
        row: PostRow,
        user: str,
        action: str,
        reason: str,
        state: str | None,
        pinned: bool | None,
        ref: int | None = None,
    ) -> int:
        decision_id = await self.store.decide(
            DecisionRow(
                post_id=row.id,
                ts=self.clock.now(),
                actor=user,
                action=action,
                reason=reason,
                ref=ref,
            ),
            state,
            pinned,
        )
        after = {"state": state or row.state, "pinned": row.pinned if pinned is None else pinned}
        await self.store.audit(
            user,
            f"wall.{action}",
            row.id,
            before=_snapshot(row),
            after={**after, "decision": decision_id, "reason": reason},
        )
        return decision_id

    async def decide(self, post_id: str, action: str, user: str, reason: str = "") -> int:
        """Approve, reject, pin, unpin or take down a post; return the decision id."""
        user = self._user(user)
        if action == "block_author":
            return await self.block_author(post_id, user, reason)
        if action not in _TRANSITIONS:
            raise WallError(f"action {action!r}: not one of {', '.join(MANUAL_ACTIONS)}")
        row = await self._post(post_id)
        allowed, state, pinned = _TRANSITIONS[action]
        if row.data.get("deleted"):
            raise WallError(f"post {post_id}: deleted at the source; it cannot be shown")
        if row.state not in allowed:
            raise WallError(
                f"post {post_id}: cannot {action.replace('_', ' ')} a post that is {row.state}"
            )
        if action == "pin" and row.pinned:
            raise WallError(f"post {post_id}: already pinned")
        if action == "unpin" and not row.pinned:
            raise WallError(f"post {post_id}: not pinned")
        return await self._record(row, user, action, reason, state, pinned)

    async def block_author(
        self, post_id: str, user: str, reason: str = "", until: datetime | None = None
    ) -> int:
        """Block a post's author (until ``until``) and hide every shown or queued post of theirs."""
        user = self._user(user)
        row = await self._post(post_id)
        if until is not None and until <= self.clock.now():
            raise WallError(f"block of {row.author}: expiry {until:%Y-%m-%d %H:%M}Z is in the past")
        block_id = await self._record(row, user, "block_author", reason, "hidden", False)
        await self.store.put_author_block(
            AuthorBlockRow(
                author=row.author,
                until=until,
                actor=user,
                reason=reason,
                decision_id=block_id,
                created_at=self.clock.now(),
            )
        )
        if self.chain is not None:
            self.chain.block(row.author, until)
        for other in await self.store.posts_by_author(row.author, ("approved", "pending")):
            if other.id != row.id:
                await self._record(
                    other,
                    user,
                    "hide",
                    f"author blocked (decision {block_id})",
                    "hidden",
                    False,
                    ref=block_id,
                )
        return block_id

    async def undo(self, decision_id: int, user: str, reason: str = "") -> int:
        """Put the post back as it was before decision ``decision_id``."""
        user = self._user(user)
        d = await self.store.get_decision(decision_id)
        if d is None:
            raise WallError(f"decision {decision_id}: no such decision")
        if d.action in ("undo", "hide") or d.actor.startswith(("rule:", "source:")):
            raise WallError(
                f"decision {decision_id}: only a person's approve, reject, pin, unpin, "
                "take down or block can be undone"
            )
        if any(r.action == "undo" for r in await self.store.decisions_referencing(decision_id)):
            raise WallError(f"decision {decision_id}: already undone")
        latest = (await self.store.list_decisions(d.post_id))[-1]
        if latest.id != decision_id:
            raise WallError(
                f"decision {decision_id}: post {d.post_id} was decided on since "
                f"(decision {latest.id}); undo that first"
            )
        row = await self._post(d.post_id)
        if row.data.get("deleted") and d.prev_state in ("approved", "pending"):
            raise WallError(f"post {d.post_id}: deleted at the source; it cannot be shown again")
        undo_id = await self._record(
            row,
            user,
            "undo",
            reason or f"undo decision {decision_id}",
            d.prev_state,
            d.prev_pinned,
            ref=decision_id,
        )
        if d.action == "block_author":
            await self.store.remove_author_block(row.author)
            if self.chain is not None:
                self.chain.unblock(row.author)
            for hide in await self.store.decisions_referencing(decision_id):
                if hide.action != "hide":
                    continue
                other = await self.store.get_post(hide.post_id)
                if other is None or other.state != "hidden" or other.data.get("deleted"):
                    continue
                await self._record(
                    other,
                    user,
                    "undo",
                    f"author unblocked (decision {undo_id})",
                    hide.prev_state,
                    hide.prev_pinned,
                    ref=hide.id,
                )
        return undo_id

    async def unblock(self, author: str, user: str, reason: str = "") -> bool:
        """Lift a block without restoring hidden posts (audited)."""
        user = self._user(user)
        removed = await self.store.remove_author_block(author)
        if removed:
            if self.chain is not None:
                self.chain.unblock(author)
            await self.store.audit(user, "wall.unblock", author, after={"reason": reason})
        return removed
