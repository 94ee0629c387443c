"""Profile validation: every rule with a good and a bad case, and line numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eventops.errors import ProfileError, SecretError
from eventops.profile import load_profile, parse_profile
from eventops.profile.models import Profile
from eventops.secrets import SecretRef

REPO = Path(__file__).resolve().parents[2]

BASE = """\
[event]
id = "t"
name = "Test"
start = 2026-06-18T14:00:00+02:00
end = 2026-06-18T23:00:00+02:00

[[sites]]
id = "s1"

[[switches]]
id = "sw-a"
management = { url = "http://127.0.0.1:1", password = "env:P" }
ports = [{ name = "e1" }, { name = "e2" }]

[[switches]]
id = "sw-b"
management = { url = "http://127.0.0.1:2", password = "env:P" }
ports = [{ name = "e1" }]

[[links]]
id = "l1"
a = { device = "sw-a", port = "e1" }
b = { device = "sw-b", port = "e1" }
length_m = 100
optic = "1000BASE-LX"
capacity_mbps = 1000
authorities = ["police"]

[[authorities]]
id = "police"
name = "Polizei"

[[masts]]
id = "m1"
site = "s1"
management = { url = "http://127.0.0.1:3", password = "env:P" }
uplink = "l1"
antenna_gain_dbi = 3

[[masts.radios]]
band = "2g"
channel = 6
tx_power_dbm = 14

[[masts.radios]]
band = "5g"
channel = 36
width = 80
tx_power_dbm = 17
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "p.toml")
    return info.value.lines()


def only(text: str) -> str:
    lines = problems(text)
    assert len(lines) == 1, lines
    return lines[0]


def test_base_is_valid() -> None:
    p = parse_profile(BASE, "p.toml")
    assert [m.id for m in p.masts] == ["m1"]
    assert p.event.start.utcoffset() is not None


@pytest.mark.parametrize("name", ["demo.toml", "city-festival.toml", "stadium.toml"])
def test_example_profiles_are_valid(name: str) -> None:
    p = load_profile(REPO / "profiles" / name)
    assert p.masts and p.links and p.users


def test_city_festival_has_tens_of_masts() -> None:
    p = load_profile(REPO / "profiles" / "city-festival.toml")
    assert len(p.masts) >= 20 and len(p.links) >= 3


# -- DE radio rules ------------------------------------------------------------


def test_channel_14_on_24ghz() -> None:
    line = only(BASE.replace("channel = 6", "channel = 14"))
    assert re.match(
        r"p\.toml:\d+: masts\[0\]\.radios\[0\]\.channel: channel 14 is not allowed on 2\.4 GHz",
        line,
    )


def test_channel_52_outdoor_and_indoor() -> None:
    text = BASE.replace("channel = 36\nwidth = 80", "channel = 52\nwidth = 20")
    assert "indoor-only" in only(text)
    indoor = text.replace("antenna_gain_dbi = 3", "antenna_gain_dbi = 3\nindoor = true")
    parse_profile(indoor, "p.toml")


def test_bonded_block_must_be_allowed() -> None:
    # 160 MHz at 36 spans 36-64, which includes the indoor-only 52-64.
    line = only(BASE.replace("width = 80", "width = 160"))
    assert "spans 36-64" in line and "radios[1].width" in line
    # 40 MHz at 140 would need 144, which DE does not allow.
    line = only(BASE.replace("channel = 36\nwidth = 80", "channel = 140\nwidth = 40"))
    assert "144" in line


def test_dfs_channel_allowed_outdoor() -> None:
    parse_profile(BASE.replace("channel = 36\nwidth = 80", "channel = 100\nwidth = 80"), "p.toml")


def test_5ghz_gap_channel() -> None:
    assert "not allowed on 5 GHz" in only(
        BASE.replace("channel = 36\nwidth = 80", "channel = 68\nwidth = 20")
    )


def test_eirp_limit() -> None:
    # 17 dBm + 3 dBi = 20 dBm is the 2.4 GHz limit; one more dB is too much.
    parse_profile(BASE.replace("tx_power_dbm = 14", "tx_power_dbm = 17"), "p.toml")
    line = only(BASE.replace("tx_power_dbm = 14", "tx_power_dbm = 18"))
    assert "21 dBm EIRP exceeds the DE limit of 20 dBm" in line


def test_width_not_in_band() -> None:
    assert "not a 2.4 GHz width" in only(BASE.replace("channel = 6\n", "channel = 6\nwidth = 80\n"))


def test_inherited_radios_checked_per_mast() -> None:
    text = BASE.replace(
        '[[sites]]\nid = "s1"\n',
        '[[sites]]\nid = "s1"\n\n[[sites.mast.radios]]\nband = "5g"\nchannel = 56\ntx_power_dbm = 10\n',
    )
    # m1 keeps its own radios; a second mast without radios inherits the site's.
    text += '\n[[masts]]\nid = "m2"\nsite = "s1"\nmanagement = { url = "http://127.0.0.1:4", password = "env:P" }\n'
    line = only(text)
    assert "sites[0].mast.radios[0].channel" in line and "inherited by mast m2" in line


# -- references and ids ---------------------------------------------------------


def test_dangling_uplink() -> None:
    line = only(BASE.replace('uplink = "l1"', 'uplink = "l9"'))
    assert "masts[0].uplink: uplink link 'l9' does not exist (known: l1)" in line


def test_link_endpoint_unknown_device_and_port() -> None:
    lines = problems(
        BASE.replace('b = { device = "sw-b", port = "e1" }', 'b = { device = "sw-x", port = "e7" }')
    )
    assert any("links[0].b.device: endpoint device 'sw-x' does not exist" in x for x in lines)
    line = only(
        BASE.replace('b = { device = "sw-b", port = "e1" }', 'b = { device = "sw-b", port = "e7" }')
    )
    assert "port 'e7' is not declared on sw-b" in line


def test_link_endpoint_on_a_mast() -> None:
    assert "is a mast" in only(
        BASE.replace('b = { device = "sw-b", port = "e1" }', 'b = { device = "m1", port = "e1" }')
    )


def test_duplicate_ids() -> None:
    text = (
        BASE
        + '\n[[masts]]\nid = "sw-a"\nmanagement = { url = "http://127.0.0.1:5", password = "env:P" }\n'
    )
    assert "duplicate device id 'sw-a'" in only(text)


def test_unknown_authority_and_site() -> None:
    lines = problems(
        BASE.replace('authorities = ["police"]', 'authorities = ["thw"]').replace(
            'site = "s1"', 'site = "s9"'
        )
    )
    assert any("links[0].authorities[0]: authority 'thw'" in x for x in lines)
    assert any("masts[0].site: site 's9'" in x for x in lines)


def test_user_roles() -> None:
    tok = "a" * 64
    ok = (
        BASE
        + f'\n[[users]]\nname = "p"\nrole = "authority"\nauthority = "police"\ntoken_sha256 = "{tok}"\n'
    )
    parse_profile(ok, "p.toml")
    assert "needs `authority`" in only(ok.replace('authority = "police"\n', ""))
    assert "authority 'fire' does not exist" in only(
        ok.replace('authority = "police"', 'authority = "fire"')
    )
    assert "token_sha256" in only(ok.replace(tok, "xyz"))


# -- secrets, TLS, time ----------------------------------------------------------


def test_literal_password_rejected_without_echo() -> None:
    line = only(BASE.replace('password = "env:P" }\nuplink', 'password = "hunter2" }\nuplink'))
    assert "masts[0].management.password: a literal secret is not allowed" in line
    assert "hunter2" not in line


def test_secret_refs_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    text = BASE.replace('password = "env:P" }\nuplink', 'password = "file:pw" }\nuplink')
    (tmp_path / "e.toml").write_text(text)
    p = load_profile(tmp_path / "e.toml")
    assert p.masts[0].management.password.reveal() == "s3cret"
    assert "s3cret" not in repr(p)
    monkeypatch.setenv("P", "from-env")
    assert p.switches[0].management.password.reveal() == "from-env"


def test_https_needs_pin_and_http_only_on_loopback() -> None:
    line = only(BASE.replace('url = "http://127.0.0.1:3"', 'url = "https://10.1.2.3"'))
    assert "management.tls_pin: https needs tls_pin" in line
    assert "in clear" in only(BASE.replace('url = "http://127.0.0.1:3"', 'url = "http://10.1.2.3"'))
    pin = ":".join(["ab"] * 32)
    parse_profile(
        BASE.replace('url = "http://127.0.0.1:3"', f'url = "https://10.1.2.3", tls_pin = "{pin}"'),
        "p.toml",
    )
    assert "64 hex digits" in only(
        BASE.replace('url = "http://127.0.0.1:3"', 'url = "https://10.1.2.3", tls_pin = "abc"')
    )


def test_time_window() -> None:
    assert "is not after start" in only(
        BASE.replace("end = 2026-06-18T23:00", "end = 2026-06-18T13:00")
    )
    assert "lasts" in only(
        BASE.replace("end = 2026-06-18T23:00:00+02:00", "end = 2026-12-18T23:00:00+01:00")
    )
    assert "unknown time zone" in only(
        BASE.replace('name = "Test"', 'name = "Test"\ntimezone = "Mars/Olympus"')
    )


def test_local_times_take_the_event_zone() -> None:
    p = parse_profile(BASE.replace("+02:00", ""), "p.toml")
    offset = p.event.start.utcoffset()
    assert offset is not None and offset.total_seconds() == 7200


def test_structure_errors() -> None:
    assert "unknown key" in only(BASE.replace('name = "Test"', 'name = "Test"\ncolour = "red"'))
    assert "missing required key" in only(BASE.replace("length_m = 100\n", ""))
    assert "Input should be" in only(BASE.replace('optic = "1000BASE-LX"', 'optic = "100BASE-FX"'))


def test_ssid_security_needs_key() -> None:
    text = BASE + '\n[[masts.ssids]]\nname = "x"\nsecurity = "wpa3"\n'
    assert "needs a key reference" in only(text)


# -- the hand-broken profile of the issue and line numbers -------------------------


def test_hand_broken_profile_one_line_per_fault() -> None:
    text = (
        BASE.replace('uplink = "l1"', 'uplink = "nowhere"')
        .replace("channel = 6", "channel = 14")
        .replace("channel = 36\nwidth = 80", "channel = 52\nwidth = 20")
        .replace('ports = [{ name = "e1" }]', 'ports = [{ name = "e1" }]\n# pw\n')
        .replace(
            'management = { url = "http://127.0.0.1:2", password = "env:P" }',
            'management = { url = "http://127.0.0.1:2", password = "geheim" }',
        )
    )
    lines = problems(text)
    assert len(lines) == 4, lines
    src = text.splitlines()

    def line_no(needle: str) -> int:
        return next(i for i, t in enumerate(src, 1) if needle in t)

    expect = {
        "switches[1].management.password": line_no('password = "geheim"'),
        "masts[0].uplink": line_no('uplink = "nowhere"'),
        "masts[0].radios[0].channel": line_no("channel = 14"),
        "masts[0].radios[1].channel": line_no("channel = 52"),
    }
    for path, lineno in expect.items():
        assert any(x.startswith(f"p.toml:{lineno}: {path}: ") for x in lines), (path, lineno, lines)
    assert all("geheim" not in x for x in lines)


def test_toml_syntax_error_names_line() -> None:
    line = only(BASE.replace('name = "Test"', 'name = "Test'))
    assert line.startswith("p.toml:3: (top level): TOML syntax error")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ProfileError, match="is a directory"):
        load_profile(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(tmp_path / "bin.toml")


def test_direct_construction_still_validates() -> None:
    import tomllib

    data = tomllib.loads(BASE.replace('uplink = "l1"', 'uplink = "l9"'))
    with pytest.raises(ValueError, match="uplink link 'l9' does not exist"):
        Profile.model_validate(data)


def test_json_schema() -> None:
    schema = Profile.model_json_schema()
    assert "event" in schema["properties"] and "masts" in schema["properties"]


# -- fail at check time (issue 15) ------------------------------------------------


def test_unknown_driver_names_the_allowed_ones() -> None:
    line = only(BASE.replace('id = "m1"\n', 'id = "m1"\ndriver = "cisco-ios"\n'))
    assert re.match(r"p\.toml:\d+: masts\[0\]\.driver: unknown mast driver 'cisco-ios'", line)
    assert "(allowed: openwrt)" in line
    line = only(BASE.replace('id = "sw-b"\n', 'id = "sw-b"\ndriver = "openwrt"\n'))
    assert "switches[1].driver: unknown switch driver 'openwrt' (allowed: restconf)" in line


def test_profile_drivers_are_registered_adapters() -> None:
    from eventops.adapters.base import DRIVERS
    from eventops.profile.models import MAST_DRIVERS, SWITCH_DRIVERS

    assert set(MAST_DRIVERS) | set(SWITCH_DRIVERS) <= set(DRIVERS)


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("tx_power_dbm = 14", "tx_power_dbm = true", "masts[0].radios[0].tx_power_dbm", "number"),
        ("channel = 6", 'channel = "6"', "masts[0].radios[0].channel", "integer"),
        ("channel = 6", "channel = 6.0", "masts[0].radios[0].channel", "integer"),
        ("antenna_gain_dbi = 3", "antenna_gain_dbi = nan", "masts[0].antenna_gain_dbi", "finite"),
        ("length_m = 100", "length_m = inf", "links[0].length_m", "finite"),
        ('uplink = "l1"', 'uplink = "l1"\nindoor = 1', "masts[0].indoor", "boolean"),
        (
            '{ name = "e1" }, { name = "e2" }',
            '{ name = "e1", vlans = [true] }, { name = "e2" }',
            "switches[0].ports[0].vlans[0]",
            "integer",
        ),
    ],
)
def test_strict_types(old: str, new: str, path: str, message: str) -> None:
    assert old in BASE
    line = only(BASE.replace(old, new, 1))
    assert f": {path}: " in line and message in line.lower(), line


def test_numbers_still_accept_toml_integers_for_floats() -> None:
    p = parse_profile(BASE.replace("tx_power_dbm = 14", "tx_power_dbm = 14.5"), "p.toml")
    assert p.masts[0].radios is not None and p.masts[0].radios[0].tx_power_dbm == 14.5
    assert parse_profile(BASE, "p.toml").links[0].length_m == 100.0


def test_unknown_site_adds_no_follow_on_radio_errors() -> None:
    demo = (REPO / "profiles" / "demo.toml").read_text()
    broken = demo.replace(
        'site = "buehne"\nhostname = "mast-03"', 'site = "nowhere"\nhostname = "mast-03"'
    )
    assert broken != demo
    with pytest.raises(ProfileError) as info:
        parse_profile(broken, "demo.toml", REPO / "profiles")
    lines = info.value.lines()
    assert len(lines) == 1 and "masts[2].site: site 'nowhere' does not exist" in lines[0], lines


def test_country_without_radio_rules_is_one_error_per_place() -> None:
    """A country the checks have no rules for fails at check time (the radios were checked
    against Germany's and the device got the unknown code), with no radio faults after it."""
    demo = (REPO / "profiles" / "demo.toml").read_text()
    # a mast with its own radios that break DE's EIRP limit: no DE fault may follow the error
    broken = demo.replace(
        'hostname = "mast-02"', 'hostname = "mast-02"\ncountry = "FR"', 1
    ).replace(
        "channel = 44\nwidth = 40\ntx_power_dbm = 20", "channel = 44\nwidth = 40\ntx_power_dbm = 30"
    )
    assert broken.count('country = "FR"') == 1 and "tx_power_dbm = 30" in broken
    with pytest.raises(ProfileError) as info:
        parse_profile(broken, "demo.toml", REPO / "profiles")
    lines = info.value.lines()
    assert len(lines) == 1, lines
    assert "masts[1].country: country 'FR': no radio rules for it here (known: DE)" in lines[0]
    every = demo.replace('country = "DE"', 'country = "XX"')
    with pytest.raises(ProfileError) as info:
        parse_profile(every, "demo.toml", REPO / "profiles")
    assert [x.split(": ", 1)[1] for x in info.value.lines()] == [
        "defaults.mast.country: country 'XX': no radio rules for it here (known: DE)",
        "sites[1].mast.country: country 'XX': no radio rules for it here (known: DE)",
    ]


def _check(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    from eventops.profile.loader import check_profile

    f = tmp_path / "c.toml"
    f.write_text(text)
    try:
        _, warnings = check_profile(f)
    except ProfileError as exc:
        return exc.lines(), []
    return [], [str(w) for w in warnings]


def test_file_secrets_are_checked_at_check_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P", "x")
    mast_pw = 'password = "env:P" }\nuplink'
    errors, _ = _check(tmp_path, BASE.replace(mast_pw, 'password = "file:nope" }\nuplink'))
    assert len(errors) == 1
    assert re.match(
        r".*c\.toml:\d+: masts\[0\]\.management\.password: secret file:nope: no such file",
        errors[0],
    )
    (tmp_path / "dir").mkdir()
    errors, _ = _check(tmp_path, BASE.replace(mast_pw, 'password = "file:dir" }\nuplink'))
    assert "not a regular file" in errors[0]
    (tmp_path / "plain").write_text("x")
    errors, _ = _check(tmp_path, BASE.replace(mast_pw, 'password = "file:plain/sub" }\nuplink'))
    assert "cannot reach file (Not a directory)" in errors[0]
    (tmp_path / "empty").write_text("")
    (tmp_path / "empty").chmod(0o600)
    errors, _ = _check(tmp_path, BASE.replace(mast_pw, 'password = "file:empty" }\nuplink'))
    assert "file is empty" in errors[0]
    # load_profile alone does not read secrets: only check and run time do
    f = tmp_path / "c.toml"
    f.write_text(BASE.replace(mast_pw, 'password = "file:nope" }\nuplink'))
    assert load_profile(f).masts[0].management.password.ref == "file:nope"


def test_secret_files_that_cannot_be_secrets_fail_at_check_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable, not UTF-8 or too big: an error at check time, as it would be at run time,
    one line naming the reference and never the content."""
    monkeypatch.setenv("P", "x")
    mast_pw = 'password = "env:P" }\nuplink'
    bad = tmp_path / "latin1"
    bad.write_bytes(b"geheim\xe4\xff")
    bad.chmod(0o600)
    big = tmp_path / "big"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    big.chmod(0o600)
    cases = [
        ("file:latin1", "not UTF-8 text (byte 6)"),
        ("file:big", "file is larger than 64 KiB"),
        ("file:/proc/self/mem", "cannot read file (Input/output error)"),  # exists, unreadable
    ]
    for ref, message in cases:
        errors, _ = _check(tmp_path, BASE.replace(mast_pw, f'password = "{ref}" }}\nuplink'))
        assert len(errors) == 1 and f"secret {ref}: {message}" in errors[0], (ref, errors)
        assert "geheim" not in errors[0]
        with pytest.raises(SecretError, match=re.escape(message)):
            SecretRef(ref, tmp_path).reveal()
    ok = tmp_path / "ok"
    ok.write_bytes("pässwort\n".encode())
    ok.chmod(0o600)
    assert SecretRef("file:ok", tmp_path).reveal() == "pässwort"


def test_world_readable_secret_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P", "x")
    pw = tmp_path / "pw"
    pw.write_text("s3cret")
    pw.chmod(0o644)
    text = BASE.replace('password = "env:P" }\nuplink', 'password = "file:pw" }\nuplink')
    errors, warnings = _check(tmp_path, text)
    assert errors == [] and len(warnings) == 1
    assert (
        "masts[0].management.password: secret file:pw: file is readable by every user"
        in warnings[0]
    )
    assert "s3cret" not in warnings[0]
    pw.chmod(0o600)
    assert _check(tmp_path, text) == ([], [])


def test_unset_env_secret_is_a_warning_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("P", raising=False)
    errors, warnings = _check(tmp_path, BASE)
    assert errors == [] and len(warnings) == 1
    assert "secret env:P: environment variable is not set here (used by 3 keys)" in warnings[0]


def test_profile_text_is_cleaned_of_control_and_bidi_characters() -> None:
    text = BASE.replace(
        'name = "Test"', 'name = "Test"\nvenue = "Markt\\u202Eplatz\\u001b[2J"'
    ).replace('name = "Polizei"', 'name = "Poli\\u202Ezei\\u2066"') + (
        '\n[[wall.announcements]]\nid = "a"\ntitle_de = "Ach\\u001b]0;x\\u0007tung"\n'
        'text_de = "Zeile 1\\nZeile\\t2\\u202E"\ntitle_en = "Note\\u200f"\ntext_en = "one\\r\\ntwo"\n'
    )
    p = parse_profile(text.replace('description = ""', ""), "p.toml")
    assert p.event.venue == "Marktplatz[2J"
    assert p.authorities[0].name == "Polizei"
    (a,) = p.wall.announcements
    assert a.title_de == "Ach]0;xtung" and a.title_en == "Note"
    assert a.text_de == "Zeile 1\nZeile\t2" and a.text_en == "one\ntwo"


def test_single_line_text_loses_its_newlines() -> None:
    p = parse_profile(BASE.replace('name = "Polizei"', 'name = "Poli\\nzei"'), "p.toml")
    assert p.authorities[0].name == "Poli zei"


def test_check_warns_about_cleaned_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P", "x")
    text = BASE.replace('name = "Polizei"', 'name = "Poli\\u202Ezei\\u001b"')
    errors, warnings = _check(tmp_path, text)
    line = text.splitlines().index('name = "Poli\\u202Ezei\\u001b"') + 1
    assert errors == [] and warnings == [
        f"{tmp_path / 'c.toml'}:{line}: authorities[0].name: "
        "control or bidi-control characters removed (U+202E, U+001B)"
    ]
