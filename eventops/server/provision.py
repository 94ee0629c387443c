"""Provisioning on the engine's server (technicians only, every action audited).

Mounted with :func:`provision_extension` on the app from
:func:`eventops.server.app.create_app`; the work is done by
:class:`eventops.provision.service.ProvisionService` (its module doc has the
rule for dangerous changes and their typed confirmation).

- ``POST /api/v1/provision/plan`` ``{devices?}``  per-device diffs (secrets only as
  "changed"), the order, the summary and the dangerous changes
- ``POST /api/v1/provision/apply`` ``{devices?, confirm?}``  starts an apply
  (202 ``{apply_id}``); 409 when a dangerous change lacks the confirmation
  (``{error, dangerous, confirm}``), when an apply runs here, or when the
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
from pydantic import BaseModel, Field

from eventops.errors import ApiError
from eventops.profile.models import Role
from eventops.provision.apply import ApplyOptions, DriverFactory
from eventops.provision.service import ConfirmationNeeded, ProvisionService, plan_json
from eventops.server.app import Extension, body_of
from eventops.server.auth import ENGINE, json_response, require

T = Role.technician
PROVISION = web.AppKey("eventops_provision", ProvisionService)


class PlanBody(BaseModel):
    devices: list[str] | None = Field(default=None, max_length=10_000)


class ApplyBody(BaseModel):
    devices: list[str] | None = Field(default=None, max_length=10_000)
    confirm: str | None = Field(default=None, max_length=200)


class RollbackBody(BaseModel):
    apply_id: int = Field(ge=1)
    confirm: str | None = Field(default=None, max_length=200)


def _service(request: web.Request) -> ProvisionService:
    return request.app[PROVISION]


def _error(request: web.Request, exc: ApiError) -> web.Response:
    body: dict[str, object] = {"error": exc.one_line()}
    if isinstance(exc, ConfirmationNeeded):
        body["dangerous"] = [d.model_dump(mode="json") for d in exc.dangers]
        body["confirm"] = exc.phrase
    return json_response(request, body, status=exc.status or 400)


async def _optional_body(request: web.Request, model: type[PlanBody]) -> PlanBody:
    if not request.can_read_body:
        return model()
    return await body_of(request, model)


async def plan(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await _optional_body(request, PlanBody)
    svc = _service(request)
    try:
        report, dangers = await svc.plan(body.devices)
    except ApiError as exc:
        return _error(request, exc)
    await svc.engine.store.audit(
        user.name,
        "provision.plan",
        svc.engine.profile.event.id,
        after={"devices": body.devices, "summary": report.summary()},
    )
    return json_response(request, plan_json(report, dangers, svc.confirm_phrase()))


async def apply(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, ApplyBody)
    svc = _service(request)
    try:
        run = await svc.apply(body.devices, actor=user.name, confirm=body.confirm)
    except ApiError as exc:
        await svc.engine.store.audit(
            user.name,
            "provision.apply.refused",
            svc.engine.profile.event.id,
            after={"devices": body.devices, "reason": exc.one_line()},
        )
        return _error(request, exc)
    return json_response(
        request, {"apply_id": run.apply_id, "kind": run.kind, "total": run.total}, status=202
    )


async def rollback(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, RollbackBody)
    svc = _service(request)
    try:
        run = await svc.rollback(body.apply_id, actor=user.name, confirm=body.confirm)
    except ApiError as exc:
        await svc.engine.store.audit(
            user.name,
            "provision.rollback.refused",
            svc.engine.profile.event.id,
            after={"apply_id": body.apply_id, "reason": exc.one_line()},
        )
        return _error(request, exc)
    return json_response(
        request,
        {"apply_id": run.apply_id, "kind": run.kind, "rollback_of": body.apply_id},
        status=202,
    )


async def applies(request: web.Request) -> web.Response:
    require(request, T)
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "50"))))
    except ValueError:
        raise web.HTTPBadRequest(text="limit: not a number\n") from None
    return json_response(request, await _service(request).history(limit))


async def apply_detail(request: web.Request) -> web.Response:
    require(request, T)
    try:
        apply_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="not found\n") from None
    try:
        return json_response(request, await _service(request).detail(apply_id))
    except ApiError as exc:
        return _error(request, exc)


async def running(request: web.Request) -> web.Response:
    require(request, T)
    run = _service(request).run
    if run is None or run.task.done():
        return json_response(request, None)
    return json_response(
        request,
        {
            "apply_id": run.apply_id,
            "kind": run.kind,
            "actor": run.actor,
            "done": run.done,
            "total": run.total,
        },
    )


def provision_extension(
    *,
    lock_dir: Path | None = None,
    options: ApplyOptions | None = None,
    driver_factory: DriverFactory | None = None,
    secrets_base: Path | None = None,
) -> Extension:
    """Mount provisioning on ``app``; ``lock_dir`` defaults to the engine's."""

    def mount(app: web.Application) -> None:
        svc = ProvisionService(
            app[ENGINE],
            lock_dir=lock_dir,
            options=options,
            driver_factory=driver_factory,
            secrets_base=secrets_base,
        )
        app[PROVISION] = svc
        api = "/api/v1/provision"
        r = app.router
        r.add_post(f"{api}/plan", plan)
        r.add_post(f"{api}/apply", apply)
        r.add_post(f"{api}/rollback", rollback)
        r.add_get(f"{api}/applies", applies)
        r.add_get(f"{api}/applies/{{id}}", apply_detail)
        r.add_get(f"{api}/running", running)

        async def ctx(app: web.Application) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await svc.close()

        app.cleanup_ctx.append(ctx)

    return mount
