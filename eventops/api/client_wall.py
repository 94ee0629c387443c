"""The engine client's social wall calls."""

from __future__ import annotations

from eventops.api import models as m
from eventops.api.client_base import (
    _A,
    EngineClientBase,
    _make,
    _make_kw,
    _q,
    _query,
)


class WallCalls(EngineClientBase):
    # -- the wall -------------------------------------------------------------------------
    async def wall_queue(
        self,
        state: str = "pending",
        limit: int = 200,
        *,
        source: str | None = None,
        author: str | None = None,
        contains: str | None = None,
    ) -> list[m.QueuedPostView]:
        q = _query(state=state, limit=limit, source=source, author=author, q=contains)
        return await self._json(_A.queue, "GET", "/api/v1/wall/queue" + q)

    async def wall_post(self, post_id: str) -> m.PostDetailView:
        return await self._json(_A.post, "GET", f"/api/v1/wall/posts/{_q(post_id)}")

    async def wall_decide(
        self,
        post_id: str,
        action: str,
        reason: str = "",
        *,
        for_s: float | None = None,
        expect: int | None = None,
    ) -> m.DecisionResult:
        body = _make(
            m.DecisionBody,
            {"action": action, "reason": reason, "for_s": for_s, "expect": expect},
        )
        path = f"/api/v1/wall/posts/{_q(post_id)}/decisions"
        return await self._json(_A.decision, "POST", path, body)

    async def wall_undo(self, decision_id: int, reason: str = "") -> m.UndoResult:
        path = f"/api/v1/wall/decisions/{int(decision_id)}/undo"
        return await self._json(_A.undo, "POST", path, _make_kw(m.UndoBody, reason=reason))

    async def wall_decisions(self, post_id: str | None = None) -> list[m.DecisionView]:
        return await self._pages(_A.decisions, "/api/v1/wall/decisions" + _query(post=post_id))

    async def wall_lists(self) -> m.WallListsView:
        return await self._json(_A.lists, "GET", "/api/v1/wall/lists")

    async def wall_block(
        self, author: str, reason: str = "", *, for_s: float | None = None
    ) -> m.BlockResult:
        body = _make_kw(m.BlockBody, author=author, reason=reason, for_s=for_s)
        return await self._json(_A.block, "POST", "/api/v1/wall/blocks", body)

    async def wall_unblock(self, author: str, reason: str = "") -> m.UnblockResult:
        path = f"/api/v1/wall/blocks/{_q(author)}" + _query(reason=reason)
        return await self._json(_A.unblock, "DELETE", path)

    async def wall_counters(self) -> m.CountersView:
        return await self._json(_A.counters, "GET", "/api/v1/wall/counters")

    async def wall_announcements(self) -> m.AnnouncementsView:
        return await self._json(_A.announcements, "GET", "/api/v1/wall/announcements")

    async def wall_issue(self, announcement_id: str) -> m.ActiveAnnouncementView:
        body = _make_kw(m.IssueBody, id=announcement_id)
        return await self._json(_A.active, "POST", "/api/v1/wall/announcements", body)

    async def wall_withdraw(self) -> m.WithdrawResult:
        return await self._json(_A.withdraw, "DELETE", "/api/v1/wall/announcements/active")

    async def wall_pause(self, on: bool, note: str = "") -> m.PauseResult:
        return await self._json(
            _A.pause, "POST", "/api/v1/wall/pause", _make_kw(m.PauseBody, on=on, note=note)
        )

    async def wall_forget(self, author: str, reason: str = "") -> m.ForgetResult:
        body = _make_kw(m.ForgetBody, author=author, reason=reason)
        return await self._json(_A.forget, "POST", "/api/v1/wall/forget", body)
