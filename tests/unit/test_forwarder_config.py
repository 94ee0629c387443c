"""The forwarder's configuration checks (the part that runs without namespaces)."""

from __future__ import annotations

import pytest
from eventops_hardware.forwarder import ConfigError, impairment, main
from eventops_hardware.linklab import Impairment, LinkSpec, forwarder_config


def test_defaults_fill_in_and_linklab_config_is_accepted() -> None:
    imp = impairment({"delay_ms": 2.5}, "a_to_b")
    assert imp["delay_ms"] == 2.5 and imp["keep_order"] is True and imp["reorder_gap"] == 3
    spec = LinkSpec.symmetric(impair=Impairment(delay_ms=1, jitter_ms=0.5, duplicate_pct=1))
    cfg = forwarder_config(spec)
    for direction in ("a_to_b", "b_to_a"):
        assert impairment(cfg[direction], direction)["jitter_ms"] == 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "expected an object"),
        ({"delay": 1}, "unknown keys"),
        ({"delay_ms": -1}, "delay_ms: must be a number >= 0"),
        ({"drop_pct": 101}, "drop_pct: must be a percentage"),
        ({"duplicate_pct": 60, "reorder_pct": 50}, "exceed 100"),
        ({"reorder_gap": 0}, "reorder_gap: must be an integer"),
        ({"delay_ms": "5"}, "delay_ms: must be a number"),
    ],
)
def test_bad_impairments_are_named(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        impairment(raw, "a_to_b")


def test_bad_config_on_the_command_line_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--a-dev", "x", "--b-dev", "y", "--config", "{not json"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("forwarder: bad config:") and err.count("\n") == 1


def test_linklab_rejects_bad_specs() -> None:
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Impairment(duplicate_pct=150)
    with pytest.raises(ValueError, match="no rate limit"):
        LinkSpec().payload_rate_mbps("a_to_b", 1400)
    assert LinkSpec.symmetric(rate_mbps=100).payload_rate_mbps("a_to_b", 1458) == pytest.approx(
        100 * 1458 / 1500
    )
