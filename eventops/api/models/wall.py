"""The social wall: posts, decisions, blocks, announcements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from eventops.api.models.common import (
    Id,
    RequestModel,
    ResponseModel,
    Text,
)

# -- the wall -----------------------------------------------------------------------------

PostState = Literal["pending", "approved", "rejected", "hidden", "taken_down"]
ManualAction = Literal["approve", "reject", "pin", "unpin", "take_down", "block_author"]


class DecisionView(ResponseModel):
    id: int | None = None
    post_id: str
    ts: datetime
    actor: str
    action: str
    reason: str = ""
    """In English, for scripts; a person's reason as they typed it."""
    reason_id: str | None = None
    """``reason`` as a message id with ``reason_params`` (eventops.i18n), when the code wrote
    it (a rule's, a source's, an undo's): clients show it in their reader's language."""
    reason_params: dict[str, Any] = Field(default_factory=dict)
    ref: int | None = None
    prev_state: str | None = None
    prev_pinned: bool | None = None


class PostView(ResponseModel):
    id: str
    source: str
    author: str
    author_name: str = ""
    text: str
    created_at: datetime
    state: PostState = "pending"
    pinned: bool = False
    data: dict[str, Any] = Field(default_factory=dict)

    def media_kinds(self) -> list[str]:
        """The kinds of attached media (photo, video, ...)."""
        media = self.data.get("media")
        if not isinstance(media, list):
            return []
        return [str(m.get("kind") or "?") for m in media if isinstance(m, dict)]


class QueuedPostView(PostView):
    """A post in the moderation queue with its last decision."""

    last_decision: DecisionView | None = None


class PostDetailView(PostView):
    decisions: list[DecisionView] = Field(default_factory=list)


class DecisionBody(RequestModel):
    action: ManualAction
    reason: Text = ""
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)
    """Only for block_author: how long the block holds."""
    expect: int | None = Field(default=None, ge=1, le=2**62)
    """The post's last decision the person saw: a newer one by someone else → 409."""


class DecisionResult(ResponseModel):
    decision: int | None
    post: PostView | None = None


class UndoBody(RequestModel):
    reason: Text = ""


class UndoResult(ResponseModel):
    decision: int | None


class AuthorBlockView(ResponseModel):
    author: str
    until: datetime | None = None
    actor: str
    reason: str = ""
    decision_id: int | None = None
    created_at: datetime


class WallListsView(ResponseModel):
    blocked_users: list[str]
    allowed_users: list[str]
    blocked_words: list[str]
    default_blocklist: bool
    blocked_domains: list[str]
    allowed_domains: list[str]
    author_blocks: list[AuthorBlockView]


class BlockBody(RequestModel):
    author: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reason: Text = ""
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)


class BlockResult(ResponseModel):
    author: str
    blocked: Literal[True]
    decision: int | None
    posts: int


class UnblockResult(ResponseModel):
    author: str
    blocked: Literal[False]


class CountersView(ResponseModel):
    rules: dict[str, dict[str, int]]
    """Per rule (or ``source:<name>``): action → count."""
    people: dict[str, dict[str, int]]
    """Per moderator: action → count."""


class AnnouncementTemplateView(ResponseModel):
    """A prepared bilingual announcement (a template carries no issuer)."""

    id: str
    title_de: str
    text_de: str
    title_en: str
    text_en: str
    issued_by: str | None = None
    issued_at: datetime | None = None

    def title(self, lang: str) -> str:
        return self.title_de if lang == "de" else self.title_en

    def text(self, lang: str) -> str:
        return self.text_de if lang == "de" else self.text_en


class ActiveAnnouncementView(AnnouncementTemplateView):
    """The announcement on the screens: who issued it, when."""

    issued_by: str
    issued_at: datetime


class PausedView(ResponseModel):
    by: str
    at: datetime
    note: str = ""


class AnnouncementsView(ResponseModel):
    templates: list[AnnouncementTemplateView]
    active: ActiveAnnouncementView | None = None
    paused: PausedView | None = None


class IssueBody(RequestModel):
    id: Id


class WithdrawResult(ResponseModel):
    withdrawn: ActiveAnnouncementView | None


class PauseBody(RequestModel):
    on: bool
    note: Text = ""


class PauseResult(ResponseModel):
    paused: bool


class ForgetBody(RequestModel):
    author: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reason: Text = ""


class ForgetResult(ResponseModel):
    posts: int
    media: int
