"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 document built from the route table
and the models' JSON schemas (one source, so it cannot drift from the server)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from eventops import __version__
from eventops.api import models as m
from eventops.api.routes import ROUTES, STREAM_EVENTS, Route

REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "invalid: the body, a query parameter or a path id is malformed or out of bounds",
    "401": "unauthenticated: no or unknown token",
    "403": "forbidden: the caller's role may not do this",
    "404": "not_found: no such thing, or not visible to the caller",
    "409": "conflict / confirmation_needed: busy, or a dangerous change needs the typed id",
    "503": "unavailable: the service does not run on this engine",
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ErrorBody": m.ErrorBody}
    for r in ROUTES:
        for maybe in (r.request, r.response):
            if maybe is not None:
                seen[maybe.__name__] = maybe
    extra: list[type[BaseModel]] = [*STREAM_EVENTS.values(), m.StreamEventView]
    for model in extra:
        seen[model.__name__] = model
    return list(seen.values())


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(r: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in r.path_params
    ]
    params += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "description": q.description,
            "schema": {"type": q.schema_type},
        }
        for q in r.query
    ]
    if r.name == "stream":
        params.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            }
        )
    ok: dict[str, Any] = {"description": r.summary}
    if r.response is not None:
        schema: dict[str, Any] = _ref(r.response)
        if r.many:
            schema = {"type": "array", "items": schema}
        if r.nullable:
            schema = {"oneOf": [schema, {"type": "null"}]}
        ok["content"] = {"application/json": {"schema": schema}}
    elif r.content_type == "text/event-stream":
        ok["content"] = {
            "text/event-stream": {
                "schema": {"type": "string"},
                "x-events": {
                    **{name: _ref(model) for name, model in STREAM_EVENTS.items()},
                    "*": _ref(m.StreamEventView),
                },
            }
        }
    elif r.name == "openapi":
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    else:
        ok["content"] = {r.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(r.status): ok}
    err = {"content": {"application/json": {"schema": _ref(m.ErrorBody)}}}
    for code, text in _ERRORS.items():
        responses[code] = {"description": text, **err}
    op: dict[str, Any] = {
        "operationId": r.name,
        "summary": r.summary,
        "description": "Roles: " + ", ".join(sorted(r.roles)) + ".",
        "x-roles": sorted(r.roles),
        "parameters": params,
        "responses": responses,
        "tags": [r.path.split("/")[3]],
    }
    if r.request is not None:
        op["requestBody"] = {
            "required": not r.body_optional,
            "content": {"application/json": {"schema": _ref(r.request)}},
        }
    return op


def build_openapi() -> dict[str, Any]:
    """The whole document (plain JSON-able dicts)."""
    _, defs = models_json_schema([(model, "validation") for model in _models()], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eventops engine API",
            "version": __version__,
            "description": (
                "The engine of eventops: devices, links, alerts, probes, provisioning and "
                "the social wall. Every error answers "
                '{"error": {"code": ..., "message": ...}}.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }
