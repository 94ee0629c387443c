"""Every module of eventops has a place in the layers contract (pyproject.toml).

import-linter checks only the modules a contract names: a new top-level module
(or a new module in a package whose modules are listed one by one, like
eventops.api) would otherwise escape the layering unnoticed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {"eventops.__main__"}  # `python -m eventops`: calls eventops.cli, nothing else


def _layered() -> set[str]:
    config: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    return {name for layer in layers for name in re.split(r"\s*[|:]\s*", layer.strip())}


def _modules(package: Path, dotted: str) -> list[str]:
    return sorted(
        f"{dotted}.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    )


def _uncovered(module: str, layered: set[str]) -> list[str]:
    if module in layered or module in ENTRY_POINTS:
        return []
    path = REPO / Path(*module.split("."))
    inside = [m for m in layered if m.startswith(module + ".")]
    if inside and (path / "__init__.py").exists():  # listed module by module: all of them
        return [m for sub in _modules(path, module) for m in _uncovered(sub, layered)]
    return [module]


def test_every_eventops_module_is_in_a_layer() -> None:
    layered = _layered()
    missing = [
        m for top in _modules(REPO / "eventops", "eventops") for m in _uncovered(top, layered)
    ]
    assert missing == [], f"add to the layers contract in pyproject.toml: {missing}"


def test_the_check_sees_a_module_that_is_not_layered() -> None:
    layered = _layered() - {"eventops.timefmt"}
    assert _uncovered("eventops.timefmt", layered) == ["eventops.timefmt"]
    assert "eventops.api.sse" in _uncovered("eventops.api", layered - {"eventops.api.sse"})
