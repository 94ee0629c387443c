"""Every request body of the route table is strict: unknown fields, NaN and "yes" for a
boolean are refused field by field, in every model a route takes and every model nested
in it (the route table is read, so a route added later is checked without editing this)."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from eventops.api.routes import ROUTES


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """``model`` and every model its fields hold (lists, unions, dicts included)."""
    if model in seen:
        return seen
    seen.add(model)
    for field in model.model_fields.values():
        for t in _types(field.annotation):
            if isinstance(t, type) and issubclass(t, BaseModel):
                _models(t, seen)
    return seen


def _types(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _types(args[0])
    if args:
        return [t for a in args for t in _types(a)]
    return [annotation]


BODIES = sorted({r.request for r in ROUTES if r.request is not None}, key=lambda m: m.__name__)
ALL = sorted({m for body in BODIES for m in _models(body, set())}, key=lambda m: m.__name__)


def test_the_route_table_has_bodies() -> None:
    assert len(BODIES) >= 10, BODIES


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.__name__)
def test_model_is_closed_strict_and_finite(model: type[BaseModel]) -> None:
    cfg = model.model_config
    assert cfg.get("extra") == "forbid", model
    assert cfg.get("strict") is True, model
    assert cfg.get("allow_inf_nan") is False, model


def _field_errors(model: type[BaseModel], raw: str, field: str) -> list[str]:
    try:
        model.model_validate_json(raw)
    except ValidationError as exc:
        return [e["type"] for e in exc.errors() if e["loc"][:1] == (field,)]
    return []


def _refused(model: type[BaseModel], name: str, types_: set[Any]) -> int:
    """Check one field against the hostile values its types must refuse; 1 if it had any."""
    if bool in types_:
        for value in ("yes", 1, "true"):
            assert _field_errors(model, json.dumps({name: value}), name), (model, name, value)
    if types_ & {int, float}:
        for raw in ("NaN", "Infinity", "-Infinity", "1" + "0" * 400):
            assert _field_errors(model, f'{{"{name}": {raw}}}', name), (model, name, raw)
        if str not in types_:  # a rate may be "100M"; a count is never "5"
            assert _field_errors(model, json.dumps({name: "5"}), name), (model, name)
    return 1 if types_ & {bool, int, float} else 0


def test_unknown_fields_nan_and_yes_are_refused_per_field() -> None:
    checked = 0
    for model in ALL:
        assert _field_errors(model, '{"zz_unknown": 1}', "zz_unknown") == ["extra_forbidden"]
        for name, field in model.model_fields.items():
            checked += _refused(model, name, set(_types(field.annotation)))
    assert checked >= 25, checked  # the walk reached the numbers and booleans
