"""The OpenAPI document: valid 3.1, every route in it, every $ref resolving."""

from __future__ import annotations

import inspect
from typing import Any

from openapi_spec_validator import validate

from eventops.api.client import EngineClient
from eventops.api.openapi import build_openapi
from eventops.api.routes import ROUTES


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for v in node.values():
            out += _refs(v)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_document_is_valid_openapi_31() -> None:
    doc = build_openapi()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any structural error


def test_every_route_is_in_it_with_its_models() -> None:
    doc = build_openapi()
    ops = {
        op["operationId"]: (path, meth, op)
        for path, item in doc["paths"].items()
        for meth, op in item.items()
    }
    assert set(ops) == {r.name for r in ROUTES}
    assert len(ROUTES) == len({(r.method, r.path) for r in ROUTES})
    for r in ROUTES:
        path, meth, op = ops[r.name]
        assert (path, meth) == (r.path, r.method.lower())
        assert op["x-roles"] == sorted(r.roles)
        if r.request is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/" + r.request.__name__)
        if r.response is not None:
            schema = op["responses"][str(r.status)]["content"]["application/json"]["schema"]
            assert r.response.__name__ in str(schema)
        for p in r.path_params:
            assert any(x["name"] == p and x["in"] == "path" for x in op["parameters"])


def test_every_ref_resolves() -> None:
    doc = build_openapi()
    refs = _refs(doc)
    assert len(refs) > 100
    for ref in set(refs):
        _resolve(doc, ref)


def test_request_schemas_are_closed_and_bounded() -> None:
    schemas = build_openapi()["components"]["schemas"]
    for r in ROUTES:
        if r.request is not None:
            s = schemas[r.request.__name__]
            assert s.get("additionalProperties") is False, r.request.__name__
    assert schemas["SilenceBody"]["properties"]["duration_s"]["exclusiveMinimum"] == 0
    assert schemas["AckBody"]["properties"]["note"]["maxLength"] == 2000


def test_every_route_has_its_client_method() -> None:
    for r in ROUTES:
        fn = getattr(EngineClient, r.name, None)
        assert fn is not None, r.name
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), r.name
