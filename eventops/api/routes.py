"""The route table of ``/api/v1``: one row per route, shared by the OpenAPI
document, the contract tests and (one method per ``name``) :class:`EngineClient`.

``roles``: who may call it (anyone else gets 403; an authority sees only its
own links and devices in what it may call). ``response`` is the 2xx body's
model (``many``: a JSON array of it, ``nullable``: or ``null``); None for the
routes that answer HTML or an event stream (``content_type``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from eventops.api import models as m

TECH = "technician"
AUTH = "authority"
COMMS = "comms"
EVERYONE = frozenset({TECH, AUTH, COMMS})


@dataclass(frozen=True)
class Param:
    """A query parameter (always a string on the wire)."""

    name: str
    description: str
    required: bool = False
    schema_type: str = "string"


@dataclass(frozen=True)
class Route:
    name: str
    """The operationId, and the name of :class:`EngineClient`'s method."""
    method: str
    path: str
    summary: str
    roles: frozenset[str]
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False
    nullable: bool = False
    status: int = 200
    query: tuple[Param, ...] = ()
    content_type: str = "application/json"
    body_optional: bool = False

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


def _r(*roles: str) -> frozenset[str]:
    return frozenset(roles)


V = "/api/v1"
SINCE = Param("since", "ISO 8601 time (UTC if no offset)", schema_type="string")
UNTIL = Param("until", "ISO 8601 time (UTC if no offset)", schema_type="string")
LIMIT = Param("limit", "items per page, 1..1000 (default 200)", schema_type="integer")
CURSOR = Param(
    "cursor",
    "the next page: the X-Next-Cursor header of the previous answer (opaque)",
)
PAGED = " (paged: limit and cursor; X-Next-Cursor names the next page)"

ROUTES: tuple[Route, ...] = (
    Route(
        "whoami",
        "GET",
        f"{V}/whoami",
        "The caller's name, role and authority",
        EVERYONE,
        response=m.WhoAmIView,
    ),
    Route("openapi", "GET", f"{V}/openapi.json", "This API as an OpenAPI 3.1 document", EVERYONE),
    Route(
        "status",
        "GET",
        f"{V}/status",
        "The status page's rows (the caller's links)",
        _r(TECH, AUTH),
        response=m.StatusView,
    ),
    Route(
        "engines",
        "GET",
        f"{V}/engines",
        "This engine's role and the engines of the event (active, standbys) with their age",
        _r(TECH),
        response=m.EnginesView,
    ),
    # devices
    Route(
        "devices",
        "GET",
        f"{V}/devices",
        "The devices the caller may see",
        _r(TECH, AUTH),
        response=m.DeviceView,
        many=True,
    ),
    Route(
        "device",
        "GET",
        f"{V}/devices/{{id}}",
        "One device with its last polled status",
        _r(TECH, AUTH),
        response=m.DeviceDetailView,
    ),
    Route(
        "maintenance",
        "POST",
        f"{V}/devices/{{id}}/maintenance",
        "Put a device in or out of maintenance (no alerts)",
        _r(TECH),
        request=m.MaintenanceBody,
        response=m.MaintenanceResult,
    ),
    Route(
        "reboot",
        "POST",
        f"{V}/devices/{{id}}/reboot",
        "Reboot a device (if its driver can)",
        _r(TECH),
        response=m.RebootResult,
        status=202,
    ),
    # links
    Route(
        "links",
        "GET",
        f"{V}/links",
        "The links the caller may see",
        _r(TECH, AUTH),
        response=m.LinkView,
        many=True,
    ),
    Route("link", "GET", f"{V}/links/{{id}}", "One link", _r(TECH, AUTH), response=m.LinkView),
    Route(
        "handover",
        "POST",
        f"{V}/links/{{id}}/handover",
        "Hand a link over to an authority (records the baseline)",
        _r(TECH),
        request=m.HandoverBody,
        response=m.HandoverView,
        status=201,
    ),
    Route(
        "handovers",
        "GET",
        f"{V}/handovers",
        "Handovers of the caller's links",
        _r(TECH, AUTH),
        response=m.HandoverView,
        many=True,
    ),
    Route(
        "handover_report",
        "GET",
        f"{V}/handovers/{{id}}/report",
        "A handover's printable report (HTML)",
        _r(TECH, AUTH),
        content_type="text/html",
    ),
    # alerts
    Route(
        "alerts",
        "GET",
        f"{V}/alerts",
        "Open alerts (all=1: every stored alert)" + PAGED,
        _r(TECH, AUTH),
        response=m.AlertView,
        many=True,
        query=(Param("all", "1: closed alerts too"), LIMIT, CURSOR),
    ),
    Route(
        "ack",
        "POST",
        f"{V}/alerts/{{id}}/ack",
        "Acknowledge an alert",
        _r(TECH),
        request=m.AckBody,
        response=m.AlertView,
    ),
    Route(
        "silences",
        "GET",
        f"{V}/silences",
        "Active silences",
        _r(TECH),
        response=m.SilenceView,
        many=True,
    ),
    Route(
        "silence",
        "POST",
        f"{V}/silences",
        "Silence alerts matching labels for a while",
        _r(TECH),
        request=m.SilenceBody,
        response=m.SilenceView,
        status=201,
    ),
    Route(
        "unsilence",
        "DELETE",
        f"{V}/silences/{{id}}",
        "Remove a silence",
        _r(TECH),
        response=m.SilenceRemoved,
    ),
    # history
    Route(
        "history",
        "GET",
        f"{V}/history",
        "A device metric's samples (default: the last hour; paged: limit and cursor, "
        "next_cursor names the next page)",
        _r(TECH, AUTH),
        response=m.HistoryView,
        query=(
            Param("device", "device id", required=True),
            Param("metric", "metric name", required=True),
            SINCE,
            UNTIL,
            LIMIT,
            Param("cursor", "the next page: next_cursor of the previous answer (opaque)"),
        ),
    ),
    Route(
        "timeline",
        "GET",
        f"{V}/timeline",
        "What happened, in order" + PAGED,
        _r(TECH),
        response=m.TimelineEntryView,
        many=True,
        query=(SINCE, UNTIL, LIMIT, CURSOR),
    ),
    Route(
        "reload",
        "POST",
        f"{V}/reload",
        "Reload the profile without a restart",
        _r(TECH),
        response=m.ReloadResult,
    ),
    Route(
        "stream",
        "GET",
        f"{V}/stream",
        "Live events (Server-Sent Events; Last-Event-ID resumes)",
        EVERYONE,
        content_type="text/event-stream",
        query=(Param("last_event_id", "as the Last-Event-ID header"),),
    ),
    # probes
    Route(
        "probe_stamp",
        "POST",
        f"{V}/probe/stamp",
        "A STAMP run (delay, jitter, loss)",
        _r(TECH),
        request=m.StampBody,
        response=m.ProbeResultView,
    ),
    Route(
        "probe_throughput",
        "POST",
        f"{V}/probe/throughput",
        "A UDP throughput run",
        _r(TECH),
        request=m.ThroughputBody,
        response=m.ProbeResultView,
    ),
    Route(
        "probe_accept",
        "POST",
        f"{V}/probe/accept",
        "An acceptance run (steps, hold, search); the link's proof",
        _r(TECH),
        request=m.AcceptBody,
        response=m.ProbeResultView,
    ),
    Route(
        "probe_results",
        "GET",
        f"{V}/probe/results",
        "Stored probe results, oldest first",
        _r(TECH),
        response=m.ProbeResultView,
        many=True,
        query=(
            Param("link", "link id or host:port"),
            Param("kind", "stamp, throughput …"),
            Param("limit", "1..10000 (default 100)", schema_type="integer"),
        ),
    ),
    Route(
        "probes_running",
        "GET",
        f"{V}/probe/running",
        "Probe runs in flight",
        _r(TECH),
        response=m.RunningProbeView,
        many=True,
    ),
    # provisioning
    Route(
        "provision_plan",
        "POST",
        f"{V}/provision/plan",
        "Per-device diffs, the order and the dangerous changes",
        _r(TECH),
        request=m.PlanBody,
        response=m.PlanView,
        body_optional=True,
    ),
    Route(
        "provision_apply",
        "POST",
        f"{V}/provision/apply",
        "Start an apply",
        _r(TECH),
        request=m.ApplyBody,
        response=m.ApplyStarted,
        status=202,
    ),
    Route(
        "provision_rollback",
        "POST",
        f"{V}/provision/rollback",
        "Re-apply the state recorded before an apply",
        _r(TECH),
        request=m.RollbackBody,
        response=m.RollbackStarted,
        status=202,
    ),
    Route(
        "provision_applies",
        "GET",
        f"{V}/provision/applies",
        "Applies, newest first" + PAGED,
        _r(TECH),
        response=m.ApplyRecordView,
        many=True,
        query=(LIMIT, CURSOR),
    ),
    Route(
        "provision_apply_detail",
        "GET",
        f"{V}/provision/applies/{{id}}",
        "One apply with its per-device results",
        _r(TECH),
        response=m.ApplyDetailView,
    ),
    Route(
        "provision_running",
        "GET",
        f"{V}/provision/running",
        "The apply running in the engine, or null",
        _r(TECH),
        response=m.RunningApplyView,
        nullable=True,
    ),
    # the wall
    Route(
        "wall_queue",
        "GET",
        f"{V}/wall/queue",
        "Posts to moderate (or in any state)",
        _r(COMMS, TECH),
        response=m.QueuedPostView,
        many=True,
        query=(
            Param("state", "pending (default), approved, …, or all"),
            Param("limit", "1..1000 (default 100)", schema_type="integer"),
            Param("source", "source name"),
            Param("author", "author key"),
            Param("q", "text contains"),
        ),
    ),
    Route(
        "wall_post",
        "GET",
        f"{V}/wall/posts/{{id}}",
        "One post with its decisions",
        _r(COMMS, TECH),
        response=m.PostDetailView,
    ),
    Route(
        "wall_decide",
        "POST",
        f"{V}/wall/posts/{{id}}/decisions",
        "Approve, reject, pin, unpin, take down a post or block its author",
        _r(COMMS),
        request=m.DecisionBody,
        response=m.DecisionResult,
        status=201,
    ),
    Route(
        "wall_undo",
        "POST",
        f"{V}/wall/decisions/{{id}}/undo",
        "Undo a decision",
        _r(COMMS),
        request=m.UndoBody,
        response=m.UndoResult,
        status=201,
    ),
    Route(
        "wall_decisions",
        "GET",
        f"{V}/wall/decisions",
        "Decisions (of one post)" + PAGED,
        _r(COMMS, TECH),
        response=m.DecisionView,
        many=True,
        query=(Param("post", "post id"), LIMIT, CURSOR),
    ),
    Route(
        "wall_lists",
        "GET",
        f"{V}/wall/lists",
        "Block and allow lists",
        _r(COMMS, TECH),
        response=m.WallListsView,
    ),
    Route(
        "wall_block",
        "POST",
        f"{V}/wall/blocks",
        "Block an author",
        _r(COMMS),
        request=m.BlockBody,
        response=m.BlockResult,
        status=201,
    ),
    Route(
        "wall_unblock",
        "DELETE",
        f"{V}/wall/blocks/{{author}}",
        "Lift an author block",
        _r(COMMS),
        response=m.UnblockResult,
        query=(Param("reason", "why"),),
    ),
    Route(
        "wall_counters",
        "GET",
        f"{V}/wall/counters",
        "Decisions per rule and per person",
        _r(COMMS, TECH),
        response=m.CountersView,
    ),
    Route(
        "wall_announcements",
        "GET",
        f"{V}/wall/announcements",
        "Announcement templates, the active one, pause state",
        _r(COMMS, TECH, AUTH),
        response=m.AnnouncementsView,
    ),
    Route(
        "wall_issue",
        "POST",
        f"{V}/wall/announcements",
        "Put an emergency announcement on every wall screen",
        _r(COMMS, AUTH),
        request=m.IssueBody,
        response=m.ActiveAnnouncementView,
        status=201,
    ),
    Route(
        "wall_withdraw",
        "DELETE",
        f"{V}/wall/announcements/active",
        "Withdraw the active announcement",
        _r(COMMS, AUTH),
        response=m.WithdrawResult,
    ),
    Route(
        "wall_pause",
        "POST",
        f"{V}/wall/pause",
        "Pause or resume the wall screens",
        _r(COMMS),
        request=m.PauseBody,
        response=m.PauseResult,
    ),
    Route(
        "wall_forget",
        "POST",
        f"{V}/wall/forget",
        "Erase an author's posts and media (data-protection request)",
        _r(COMMS),
        request=m.ForgetBody,
        response=m.ForgetResult,
    ),
)

BY_NAME: dict[str, Route] = {r.name: r for r in ROUTES}

STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "snapshot": m.SnapshotView,
    "resync": m.ResyncView,
}
"""The live stream's event data models by SSE event name; every other event name
carries a :class:`~eventops.api.models.StreamEventView`."""

__all__ = ["BY_NAME", "EVERYONE", "ROUTES", "STREAM_EVENTS", "Param", "Route"]
