"""Provisioning on the engine's server (technicians only, every action audited).

Mounted with :func:`provision_extension` on the app from
:func:`eventops.server.app.create_app`; the work is done by
:class:`eventops.engine.provisioning.ProvisionService` (its module doc has the
rule for dangerous changes and their typed confirmation).

- ``POST /api/v1/provision/plan`` ``{devices?}``  per-device diffs (secrets only as
  "changed"), the order, the summary and the dangerous changes
- ``POST /api/v1/provision/apply`` ``{devices?, confirm?}``  starts an apply
  (202 ``{apply_id}``); 409 when a dangerous change lacks the confirmation
  (``{"error": {"code": "confirmation_needed", "confirm", "dangerous", …}}``), when an apply runs here, or when the
  site lock is held by another apply (e.g. ``eventops apply`` on the CLI)
- ``GET  /api/v1/provision/applies``               the history, newest first
- ``GET  /api/v1/provision/applies/{id}``          one apply with its per-device results
- ``GET  /api/v1/provision/running``               the apply running in the engine, if any
- ``POST /api/v1/provision/rollback`` ``{apply_id, confirm}``  re-applies a recorded state

Progress arrives on ``/api/v1/stream`` as ``provision`` events, the end as
``provision.finished`` (with the report) or ``provision.failed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from eventops.adapters.base import DriverFactory
from eventops.api import models as m
from eventops.api import paging
from eventops.engine.provisioning import ProvisionService
from eventops.errors import Unavailable
from eventops.i18n import Msg, refusal
from eventops.profile.models import Role
from eventops.provision.apply import ApplyOptions
from eventops.server.auth import ENGINE, require, respond
from eventops.server.common import Extension, body_of, path_id

T = Role.technician
PROVISION = web.AppKey("eventops_provision", ProvisionService)
MOUNTED = web.AppKey("eventops_provision_mounted", bool)


def _service(request: web.Request) -> ProvisionService:
    svc = request.app[ENGINE].provision
    if svc is None:
        raise refusal(Unavailable, Msg("provision.err.not_here"))
    return svc


async def _optional_body(request: web.Request, model: type[m.PlanBody]) -> m.PlanBody:
    if not request.can_read_body:
        return model()
    return await body_of(request, model)


async def plan(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await _optional_body(request, m.PlanBody)
    out = await _service(request).plan_view(body.devices, actor=user.name)
    return respond(request, m.PlanView, value=out)


async def apply(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.ApplyBody)
    run = await _service(request).start_apply(
        body.devices,
        actor=user.name,
        confirm=body.confirm,
        confirm_timeout_s=body.confirm_timeout_s,
    )
    return respond(
        request,
        m.ApplyStarted,
        value={"apply_id": run.apply_id, "kind": run.kind, "total": run.total},
        status=202,
    )


async def rollback(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.RollbackBody)
    run = await _service(request).start_rollback(
        body.apply_id,
        actor=user.name,
        confirm=body.confirm,
        confirm_timeout_s=body.confirm_timeout_s,
    )
    return respond(
        request,
        m.RollbackStarted,
        value={"apply_id": run.apply_id, "kind": run.kind, "rollback_of": body.apply_id},
        status=202,
    )


async def applies(request: web.Request) -> web.Response:
    require(request, T)
    q = request.query
    limit = paging.limit_of(q.get("limit"))
    after = paging.cursor_of(q.get("cursor"), "applies", (int,))
    rows = await _service(request).history(limit + 1, before=int(after[0]) if after else None)
    items, nxt = paging.page(
        rows,
        lambda r: (int(r["id"]),),
        endpoint="applies",
        limit=limit,
        after=after,
        descending=True,
    )
    resp = respond(request, m.ApplyRecordView, many=True, value=items)
    if nxt is not None:
        resp.headers[paging.NEXT_CURSOR] = nxt
    return resp


async def apply_detail(request: web.Request) -> web.Response:
    require(request, T)
    apply_id = path_id(request, "apply")
    return respond(request, m.ApplyDetailView, value=await _service(request).detail(apply_id))


async def running(request: web.Request) -> web.Response:
    require(request, T)
    return respond(request, m.RunningApplyView, value=_service(request).running_view())


def mount_provisioning(app: web.Application) -> None:
    """The provisioning routes (the engine carries the service)."""
    if MOUNTED in app:
        return
    app[MOUNTED] = True
    api = "/api/v1/provision"
    r = app.router
    r.add_post(f"{api}/plan", plan)
    r.add_post(f"{api}/apply", apply)
    r.add_post(f"{api}/rollback", rollback)
    r.add_get(f"{api}/applies", applies)
    r.add_get(f"{api}/applies/{{id}}", apply_detail)
    r.add_get(f"{api}/running", running)


def provision_extension(
    *,
    lock_dir: Path | None = None,
    options: ApplyOptions | None = None,
    driver_factory: DriverFactory | None = None,
    secrets_base: Path | None = None,
) -> Extension:
    """Give an engine built without :func:`~eventops.engine.build_engine` its provisioning
    (``lock_dir`` defaults to the engine's) and mount the routes (tests, embedding)."""

    def mount(app: web.Application) -> None:
        engine = app[ENGINE]
        owned = engine.provision is None
        if owned:
            engine.provision = ProvisionService(
                engine,
                lock_dir=lock_dir,
                options=options,
                driver_factory=driver_factory,
                secrets_base=secrets_base,
            )
        assert engine.provision is not None
        app[PROVISION] = engine.provision
        mount_provisioning(app)

        async def ctx(app: web.Application) -> AsyncIterator[None]:
            try:
                yield
            finally:
                if owned and engine.provision is not None:
                    await engine.provision.close()

        app.cleanup_ctx.append(ctx)

    return mount
