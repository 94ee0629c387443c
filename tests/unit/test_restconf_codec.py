"""RESTCONF/OpenConfig codec without sockets."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from eventops.adapters import restconf_codec as rc
from eventops.errors import AuthenticationFailed, PermissionDenied, ProtocolError, Unsupported


def test_host_meta() -> None:
    xrd = "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n <Link rel='restconf' href='/top/restconf'/>\n</XRD>"
    assert rc.parse_host_meta(xrd) == "/top/restconf"
    assert rc.parse_host_meta('<XRD><Link href="/rc/" rel="restconf"/></XRD>') == "/rc"
    assert rc.parse_host_meta("<XRD><Link rel='lrdd' href='/x'/></XRD>") is None
    assert rc.parse_host_meta("<XRD><Link rel='restconf' href='http://evil/x'/></XRD>") is None
    assert rc.parse_host_meta("not xml at all") is None


def test_paths_percent_encode_keys() -> None:
    seg = rc.key_segment("interface", "Ethernet1/1")
    assert seg == "interface=Ethernet1%2F1"
    assert rc.key_segment("x", "a,b", 3) == "x=a%2Cb,3"
    assert rc.data_path("/restconf/", "openconfig-interfaces:interfaces", seg) == (
        "/restconf/data/openconfig-interfaces:interfaces/interface=Ethernet1%2F1"
    )


def _err(tag: str, msg: str = "m") -> bytes:
    return json.dumps(
        {
            "ietf-restconf:errors": {
                "error": [
                    {
                        "error-type": "application",
                        "error-tag": tag,
                        "error-message": msg,
                        "error-path": "/p",
                    }
                ]
            }
        }
    ).encode()


def test_error_mapping() -> None:
    e = rc.error_for("sw", 409, _err("data-missing", "no such vlan"), "PATCH /x")
    assert isinstance(e, ProtocolError) and e.code == "data-missing"
    assert str(e) == "sw: PATCH /x: data-missing: no such vlan at /p (HTTP 409)"
    assert isinstance(rc.error_for("sw", 400, _err("invalid-value"), "x"), ProtocolError)
    assert isinstance(rc.error_for("sw", 409, _err("in-use"), "x"), ProtocolError)
    assert isinstance(rc.error_for("sw", 401, _err("access-denied"), "x"), AuthenticationFailed)
    assert isinstance(rc.error_for("sw", 403, _err("access-denied"), "x"), PermissionDenied)
    assert isinstance(rc.error_for("sw", 405, _err("operation-not-supported"), "x"), Unsupported)
    assert isinstance(rc.error_for("sw", 501, b"", "x"), Unsupported)
    plain = rc.error_for("sw", 500, b"<html>oops</html>", "GET /y")
    assert (
        isinstance(plain, ProtocolError)
        and plain.code == 500
        and str(plain) == "sw: GET /y: HTTP 500"
    )
    with pytest.raises(ProtocolError, match="malformed JSON"):
        rc.decode_json("sw", b'{"a":', "GET /z")


def test_rfc7951_numbers() -> None:
    assert rc.u64("18446744073709551615") == 2**64 - 1
    assert rc.u64(12) == 12 and rc.u64("x") == 0 and rc.u64(None) == 0 and rc.u64(True) == 0
    assert (
        rc.dec("-7.41") == -7.41
        and rc.dec(3) == 3.0
        and rc.dec("n/a") is None
        and rc.dec(None) is None
    )


IFS = {
    "interface": [
        {
            "name": "Ethernet1/1",
            "config": {"name": "Ethernet1/1", "description": "Polizei", "enabled": True},
            "state": {
                "oper-status": "LOWER_LAYER_DOWN",
                "admin-status": "UP",
                "mtu": 9216,
                "last-change": "1781798400000000000",
                "counters": {
                    "in-octets": "123456789012",
                    "in-fcs-errors": "7",
                    "carrier-transitions": "3",
                },
            },
            "openconfig-if-ethernet:ethernet": {
                "state": {"port-speed": "openconfig-if-ethernet:SPEED_10GB"},
                "openconfig-vlan:switched-vlan": {
                    "config": {"interface-mode": "TRUNK", "trunk-vlans": [20, "100..102"]}
                },
            },
        },
        {
            "name": "eth0",
            "config": {"enabled": False},
            "state": {"oper-status": "DOWN", "admin-status": "DOWN"},
        },
    ]
}


def test_interfaces_and_config() -> None:
    a, b = rc.interfaces_from(IFS)
    assert (
        a.name,
        a.oper_status,
        a.speed_mbps,
        a.in_octets,
        a.in_fcs_errors,
        a.carrier_transitions,
    ) == (
        "Ethernet1/1",
        "LOWER_LAYER_DOWN",
        10000.0,
        123456789012,
        7,
        3,
    )
    assert (
        a.last_change == datetime(2026, 6, 18, 16, 0, tzinfo=UTC)
        and a.mtu == 9216
        and a.description == "Polizei"
    )
    assert (b.admin_status, b.carrier) == ("DOWN", False)
    assert rc.config_from(IFS) == {
        "interfaces": {
            "Ethernet1/1": {
                "description": "Polizei",
                "enabled": True,
                "vlans": [20, 100, 101, 102],
            },
            "eth0": {"description": "", "enabled": False, "vlans": []},
        }
    }


def test_optics() -> None:
    comps = {
        "component": [
            {"name": "chassis", "state": {"type": "openconfig-platform-types:CHASSIS"}},
            {
                "name": "xcvr-7",
                "state": {"parent": "Ethernet1/7", "temperature": {"instant": "41.5"}},
                "openconfig-platform-transceiver:transceiver": {
                    "state": {
                        "present": "PRESENT",
                        "form-factor": "openconfig-transport-types:QSFP28",
                        "ethernet-pmd": "openconfig-transport-types:ETH_100GBASE_LR4",
                        "serial-no": "S1",
                    },
                    "physical-channels": {
                        "channel": [
                            {
                                "index": 1,
                                "state": {
                                    "input-power": {"instant": "-2.10"},
                                    "output-power": {"instant": "0.50"},
                                    "laser-bias-current": {"instant": "40.1"},
                                },
                            },
                            {
                                "index": 0,
                                "state": {
                                    "input-power": {"instant": "-1.00"},
                                    "output-power": {"instant": "0.40"},
                                    "laser-bias-current": {"instant": "39.0"},
                                },
                            },
                        ]
                    },
                    "thresholds": {
                        "threshold": [
                            {
                                "severity": "openconfig-alarm-types:WARNING",
                                "state": {
                                    "input-power-lower": "-11.50",
                                    "module-temperature-upper": "70.0",
                                },
                            }
                        ]
                    },
                },
            },
        ]
    }
    (o,) = rc.optics_from(comps)
    assert (o.port, o.form_factor, o.ethernet_pmd, o.serial) == (
        "Ethernet1/7",
        "QSFP28",
        "ETH_100GBASE_LR4",
        "S1",
    )
    assert (
        o.rx_power_dbm == [-1.0, -2.1]
        and o.tx_power_dbm == [0.4, 0.5]
        and o.laser_bias_ma == [39.0, 40.1]
    )
    assert o.temperature_c == 41.5
    assert (
        o.thresholds["warning"].input_power_lower == -11.5
        and o.thresholds["warning"].temperature_upper == 70.0
    )


def test_patch_body() -> None:
    body = rc.patch_body(
        {"Ethernet1/1": {"description": "x", "vlans": [110]}, "eth0": {"enabled": False}}
    )
    assert body == {
        "openconfig-interfaces:interfaces": {
            "interface": [
                {
                    "name": "Ethernet1/1",
                    "config": {"name": "Ethernet1/1", "description": "x"},
                    "openconfig-if-ethernet:ethernet": {
                        "openconfig-vlan:switched-vlan": {
                            "config": {"interface-mode": "TRUNK", "trunk-vlans": [110]}
                        }
                    },
                },
                {"name": "eth0", "config": {"name": "eth0", "enabled": False}},
            ]
        }
    }
