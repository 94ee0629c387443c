"""The message catalogue is complete: every id in German and English with the same fields,
every place in eventops that creates a message uses a known id and passes exactly the
fields its templates use, and rendering follows the viewer's language and the event's zone."""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest

from eventops.errors import ProbeError
from eventops.i18n import LANGUAGES, MESSAGES, Msg, lang_of, placeholders, render, render_strict
from eventops.monitor import checks as chk
from eventops.profile.models import AlertTolerances
from eventops.tui.i18n import STRINGS

ROOT = Path(__file__).resolve().parents[2] / "eventops"
BERLIN = ZoneInfo("Europe/Berlin")
CHECK_HELPERS = {"ok": 1, "warn": 1, "crit": 1, "result": 2}
"""Function name → index of the positional argument that is the message id."""
NOT_PARAMS = {"value", "tz"}


@pytest.mark.parametrize("msg_id", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_fields(msg_id: str) -> None:
    entry = MESSAGES[msg_id]
    assert set(entry) == set(LANGUAGES), msg_id
    for lang in LANGUAGES:
        assert entry[lang].strip(), f"{msg_id}: empty {lang}"
    assert placeholders(entry["de"]) == placeholders(entry["en"]), msg_id


def _constants(node: ast.expr) -> list[str] | None:
    """The string constants an id argument can be (both arms of ``a if c else b``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _constants(node.body), _constants(node.orelse)
        return None if a is None or b is None else a + b
    return None


def message_sites() -> Iterator[tuple[str, str, set[str] | None]]:
    """(where, msg_id, field names passed; None when they cannot be read statically)."""
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT.parent)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            where = f"{rel}:{node.lineno}"
            kw = {k.arg for k in node.keywords if k.arg is not None}
            splat = any(k.arg is None for k in node.keywords)
            if name in CHECK_HELPERS and len(node.args) > CHECK_HELPERS[name]:
                ids = _constants(node.args[CHECK_HELPERS[name]])
                for i in ids or []:
                    yield where, i, None if splat else kw - NOT_PARAMS
            elif name in CHECK_HELPERS and name == "ok" and len(node.args) == 1:
                yield where, "check.ok", kw - NOT_PARAMS
            elif name == "Msg" and node.args:
                for i in _constants(node.args[0]) or []:
                    if len(node.args) == 1 and not kw:
                        yield where, i, set()
                    elif len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
                        keys = node.args[1].keys
                        if all(isinstance(k, ast.Constant) for k in keys):
                            yield (
                                where,
                                i,
                                {
                                    k.value
                                    for k in keys
                                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                                },
                            )
                        else:
                            yield where, i, None
                    else:
                        yield where, i, None
            elif name == "_t" and node.args:  # server pages
                for i in _constants(node.args[0]) or []:
                    yield where, i, None if splat else kw
            elif name == "Condition" and len(node.args) >= 7:
                ids = _constants(node.args[5])
                params = node.args[6]
                for i in ids or []:
                    if isinstance(params, ast.Dict) and all(
                        isinstance(k, ast.Constant) for k in params.keys
                    ):
                        yield (
                            where,
                            i,
                            {
                                k.value
                                for k in params.keys
                                if isinstance(k, ast.Constant) and isinstance(k.value, str)
                            },
                        )
                    else:
                        yield where, i, None


SITES = list(message_sites())


def test_the_code_creates_messages() -> None:
    # the scan itself works: it finds the checks, alerts, polls and pages
    ids = {i for _, i, _ in SITES}
    for known in (
        "radio.missing",
        "rx.power",
        "alert.device",
        "poll.no_connection",
        "page.no_links",
    ):
        assert known in ids, known
    assert len(SITES) > 60


@pytest.mark.parametrize(
    ("where", "msg_id", "fields"), SITES, ids=[f"{w}:{i}" for w, i, _ in SITES]
)
def test_every_message_site_uses_a_known_id_with_its_fields(
    where: str, msg_id: str, fields: set[str] | None
) -> None:
    assert msg_id in MESSAGES, f"{where}: {msg_id} is not in the catalogue"
    if fields is not None:
        assert fields == placeholders(MESSAGES[msg_id]["en"]), where


def test_every_field_spec_is_one_the_renderer_knows() -> None:
    for msg_id, entry in MESSAGES.items():
        for lang in LANGUAGES:
            for _, field, spec, _ in string.Formatter().parse(entry[lang]):
                if field is None:
                    continue
                assert spec is not None  # a field always has a (maybe empty) spec
                assert spec in ("", "t", "time", "day", "stamp") or spec[-1] in "fg", (
                    msg_id,
                    field,
                    spec,
                )


def test_checks_render_in_both_languages_with_a_decimal_comma_in_german() -> None:
    c = chk.check_drift("drift.a", -14.3, -11.0, AlertTolerances())
    assert c.reason == "rx +3.3 dB below handover baseline -11.0 dBm"
    assert c.msg_id == "drift.drop" and c.params == {"drop": pytest.approx(3.3), "baseline": -11.0}
    de = render(c.msg_id, c.params, "de")
    assert de == "Empfang +3,3 dB unter dem Übergabe-Referenzwert -11,0 dBm"


def test_a_failed_proof_names_its_time_in_the_event_zone() -> None:
    ts = datetime(2026, 6, 18, 12, 3, 12, tzinfo=UTC)
    c = chk.check_probe(chk.ProbeSummary(ts, "acceptance", False), BERLIN)
    assert c.reason == "last acceptance failed at 14:03:12 CEST"
    assert c.params == {"kind": "acceptance", "at": "2026-06-18T12:03:12Z"}
    assert render(c.msg_id, c.params, "de", BERLIN) == (
        "letzte Messung (Abnahme) um 14:03:12 CEST nicht bestanden"
    )


def test_nested_messages_and_health_render_in_place() -> None:
    checks = [
        chk.crit("radio.5g", "radio.missing", band="5g"),
        chk.warn("reboot", "reboot.rebooted", 3.0, uptime=3.0, was=600.0),
    ]
    h = chk.health(checks)
    assert h.reason == "5g radio missing (+1 more)"
    assert h.msg is not None
    assert h.msg.text("de") == "Funkmodul 5g fehlt (+1 weitere)"


def test_rendering_falls_back_to_the_english_text() -> None:
    assert render(None, {}, "de", fallback="legacy text") == "legacy text"
    assert render("no.such.id", {}, "de", fallback="legacy text") == "legacy text"
    # a stored message whose fields do not match this version's template
    assert render("radio.missing", {}, "de", fallback="5g radio missing") == "5g radio missing"
    with pytest.raises(KeyError):
        render_strict("radio.missing", {}, "de")
    # nesting is bounded: a loop in stored data cannot hang a client
    loop: dict[str, object] = {"msg_id": "link.down", "params": {}}
    loop["params"] = {"why": loop}
    assert "link.down" in render("link.down", {"why": loop}, "en")


def test_languages_from_headers() -> None:
    assert lang_of("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert lang_of("fr-FR, en;q=0.5") == "en"
    assert lang_of("") == "en" and lang_of(None) == "en"


def test_one_word_for_one_count_in_german() -> None:
    # the wall's pending count is "wartend" in the header, the Pulse and the state list
    assert "wartend" in STRINGS["header.wall"]["de"]
    assert STRINGS["wall.state.pending"]["de"] == "wartend"
    assert "offen" not in STRINGS["header.wall"]["de"]


def test_msg_as_dict_is_json() -> None:
    m = Msg("alert.device", {"device": "mast-01", "check": Msg("radio.missing", {"band": "5g"})})
    assert m.as_dict() == {
        "msg_id": "alert.device",
        "params": {
            "device": "mast-01",
            "check": {"msg_id": "radio.missing", "params": {"band": "5g"}},
        },
    }
    assert m.text("de") == "mast-01: Funkmodul 5g fehlt"


def test_the_tui_shows_english_as_the_engine_wrote_it_and_german_from_the_catalogue() -> None:
    from eventops.tui.i18n import Tr
    from eventops.tui.tables import msg_text

    why = {"msg_id": "poll.no_connection", "params": {}}
    params = {"device": "mast-03", "why": why}
    english = "mast-03 unreachable: cannot connect to http://127.0.0.1:18003 (connection refused)"
    assert msg_text(Tr("en"), BERLIN, "alert.unreachable_why", params, english) == english
    de = msg_text(Tr("de"), BERLIN, "alert.unreachable_why", params, english)
    assert de == "mast-03 nicht erreichbar: keine Verbindung"
    # an engine that sends no message id: its English text, in either language
    assert msg_text(Tr("de"), BERLIN, None, {}, english) == english


EXPANSIONS = {
    "kind": ("apply", "rollback"),
    "action": ("approve", "reject", "pin", "unpin", "take_down", "block_author", "hide", "undo"),
}
"""What the f-string audit actions expand to (``provision.{kind}``, ``wall.{action}``)."""


def audit_actions() -> Iterator[tuple[str, str]]:
    """(where, action) of every audit entry eventops writes with a literal action."""
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or getattr(node.func, "attr", "") != "audit":
                continue
            where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
            arg = node.args[1] if len(node.args) > 1 else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield where, arg.value
            elif isinstance(arg, ast.JoinedStr):
                names = [
                    getattr(v.value, "id", "?")
                    for v in arg.values
                    if isinstance(v, ast.FormattedValue)
                ]
                assert len(names) == 1 and names[0] in EXPANSIONS, (where, names)
                for value in EXPANSIONS[names[0]]:
                    yield (
                        where,
                        "".join(
                            value if isinstance(v, ast.FormattedValue) else str(v.value)
                            for v in arg.values
                            if isinstance(v, ast.FormattedValue | ast.Constant)
                        ),
                    )
    for where in ("eventops/store (link.handover)",):
        yield where, "link.handover"


AUDITED = sorted(set(audit_actions()))


def test_the_audit_scan_finds_the_actions() -> None:
    found = {a for _, a in AUDITED}
    for known in ("alert.ack", "device.maintenance", "provision.rollback", "wall.undo"):
        assert known in found, known


@pytest.mark.parametrize(("where", "action"), AUDITED, ids=[f"{w}:{a}" for w, a in AUDITED])
def test_every_audited_action_has_a_term_for_the_timeline(where: str, action: str) -> None:
    """The timeline shows an audit entry as ``{actor}: {action:t} {target}``: in German the
    action must be a term, or the German timeline shows the action's English id."""
    assert f"term.{action}" in MESSAGES, where
    text = render_strict("tl.audit", {"actor": "anna", "action": action, "target": "x"}, "de")
    assert action not in text


async def test_timeline_entries_carry_their_message(tmp_path: Path) -> None:
    from eventops.monitor.history import timeline
    from eventops.store import SQLiteStore
    from eventops.store.models import DecisionRow, HandoverRow, PostRow, ProbeResultRow

    async with SQLiteStore(tmp_path / "t.sqlite3") as store:
        now = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
        await store.audit("anna", "alert.ack", "7")
        await store.add_probe_result(
            ProbeResultRow(ts=now, target="f1", kind="acceptance", passed=False, result={})
        )
        await store.upsert_posts(
            [PostRow(id="x:1", source="x", author="x:b", text="t", created_at=now)]
        )
        await store.decide(
            DecisionRow(post_id="x:1", ts=now, actor="maria", action="reject"), "rejected", False
        )
        await store.add_handover(
            HandoverRow(ts=now, link="f1", authority="police", actor="anna", record={})
        )
        entries = await timeline(store)
    assert all(isinstance(e.data.get("msg_id"), str) for e in entries), entries
    texts = {render(e.data["msg_id"], e.data["params"], "de", BERLIN, e.text) for e in entries}
    assert {
        "anna: Alarm bestätigt 7",
        "Abnahme fehlgeschlagen",
        "maria: abgelehnt",
        "anna hat f1 an police übergeben",
    } <= texts, texts
    # the English stays what scripts read
    assert {e.text for e in entries} >= {"anna: alert.ack 7", "acceptance failed"}


def test_the_scan_finds_the_wall_probe_and_refusal_messages() -> None:
    """Issue 16 follow-up: the wall's rule reasons, the probe's methods and the engine's
    refusals are message sites the checks above cover."""
    ids = {i for _, i, _ in SITES}
    for known in (
        "wall.rule.word",
        "wall.rule.pre_moderation",
        "wall.err.cannot",
        "wall.err.since",
        "wall.why.undo",
        "method.udp_throughput",
        "method.stamp_rtt",
        "probe.acc.step_fail",
        "probe.err.busy",
        "err.no_link",
        "provision.err.running",
    ):
        assert known in ids, known


def test_every_word_built_at_run_time_has_both_languages() -> None:
    """Ids and terms the code builds from a value (``wall.verb.{action}``, a rule's name as
    ``{rule:t}``, a post's state as ``{state:t}``) exist for every such value."""
    from eventops.api.models.wall import PostState
    from eventops.wall import manual, moderation

    for action in manual._TRANSITIONS:
        assert f"wall.verb.{action}" in MESSAGES, action
    tree = ast.parse(Path(moderation.__file__).read_text(encoding="utf-8"))
    rules = {
        str(node.args[1].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "of"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
    }
    assert {"blocked_user", "blocked_word", "duplicate", "mode"} <= rules
    for rule in rules:
        assert f"term.{rule}" in MESSAGES, rule
        assert render_strict("wall.actor.rule", {"rule": rule}, "en") == f"rule:{rule}"
        assert render_strict("wall.actor.rule", {"rule": rule}, "de") != rule
    for state in get_args(PostState):
        assert f"term.{state}" in MESSAGES, state
        assert render_strict("wall.now", {"state": state}, "de") != state


def test_a_verdicts_english_reason_is_its_message_in_english() -> None:
    """The English ``reason`` scripts read and the message German readers get are one text."""
    from eventops.profile.models import Wall
    from eventops.wall.moderation import ModerationChain
    from eventops.wall.normalize import NormalPost

    chain = ModerationChain.from_wall(
        Wall.model_validate(
            {"blocked_words": ["spamcoin"], "languages": ["de"], "allow_replies": False}
        ),
        BERLIN,
    )
    now = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
    chain.block("replay:mia", now.replace(hour=16))
    texts: dict[str, tuple[str, dict[str, Any]]] = {
        "replay:ben": ("Billig spamcoin", {}),
        "replay:cem": ("Hello there friends", {"lang": "en"}),
        "replay:dan": ("Wann geht es los?", {"is_reply": True}),
        "replay:eva": ("Schönes Fest heute", {}),
        "replay:fin": ("Schönes Fest heute", {}),
        "replay:mia": ("Hallo", {}),
    }
    seen = []
    for n, (author, (text, kw)) in enumerate(texts.items()):
        post = NormalPost.model_validate(
            {"id": f"replay:{n}", "source": "replay", "native_id": str(n), "author": author,
             "text": text, "created_at": now, "lang": "de", **kw}
        )  # fmt: skip
        v = chain.moderate(post, now)
        assert v.msg is not None, v
        assert v.msg.text("en", BERLIN) == v.reason
        assert v.reason_msg["reason_id"] == v.msg.msg_id
        seen.append(v.msg.text("de", BERLIN))
    assert seen == [
        "gesperrtes Wort 'spamcoin'",
        "Sprache en (von der Quelle angegeben) wird nicht gezeigt",
        "Antworten werden nicht gezeigt",
        "alle Regeln bestanden; wartet auf eine Person (Vormoderation)",
        "Duplikat von replay:3",
        "Autor replay:mia ist gesperrt bis 2026-07-04 18:00 CEST",
    ]


REFUSALS = {
    "InvalidRequest", "NotAuthenticated", "Forbidden", "NotFound", "Conflict", "Unavailable",
    "NotSupported", "ConfirmationNeeded", "WallConflict", "WallNotFound", "WallError",
    "ProbeError", "ProbeParamError", "ControlError", "Iperf3ProtocolError", "ParamsRejected",
}  # fmt: skip
"""The errors the engine's API answers with a person-facing message (a probe's failure
reaches the API and the :probe view as a ProbeError)."""
SPEAKS_TO_THE_API = ("engine", "server", "wall/manual.py", "wall/display.py", "probe")
NOT_THROUGH_THE_API = {
    ("eventops/wall/manual.py", "WallError", "a manual decision needs a person's user name"),
    ("eventops/wall/manual.py", "WallError", "not one of"),
    ("eventops/server/auth.py", "NotAuthenticated", "unauthorized"),
    ("eventops/server/auth.py", "Forbidden", "forbidden"),
    ("eventops/probe/iperf3_server.py", "Iperf3ProtocolError", ""),
    ("eventops/probe/iperf3_server.py", "ProbeError", "cannot listen on"),
    ("eventops/probe/iperf3_wire.py", "ParamsRejected", ""),
}
"""Refusals without a message id on purpose: the two only the CLI meets (the API checks the
user and the action before), and 401/403, whose bodies stay exactly code and message
(tests/unit/server/test_api.py); the TUI names a refused token in its own words and binds
no key a role may not use. Our iperf3 server's own side (iperf3_server.py, and the
parameters it rejects in iperf3_wire.py): those errors end a test on the server and are
its log lines (``eventops probe iperf3-server``); the client on the other end hears only
iperf3's error number (its own text for it has a message), and no engine API runs a
server."""


def bare_refusals(source: str, rel: str) -> Iterator[tuple[int, str, str]]:
    """(line, class, text) of each refusal raised or returned without a message id: a bare
    ``Cls("English")`` instead of ``refusal(Cls, Msg(...))``, ``Cls(...).with_msg(...)``
    or ``Cls(...).carry(exc)``."""
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Raise | ast.Return)]
    for node in sorted(nodes, key=lambda n: n.lineno):
        value = node.exc if isinstance(node, ast.Raise) else node.value
        if not isinstance(value, ast.Call):
            continue
        name = getattr(value.func, "id", getattr(value.func, "attr", ""))
        if name in REFUSALS:
            text = ast.unparse(value.args[0]) if value.args else ""
            if not any(w in text for f, c, w in NOT_THROUGH_THE_API if f == rel and c == name):
                yield node.lineno, name, text


def test_every_refusal_toward_the_api_carries_its_message() -> None:
    """Issue 16 follow-up: an error body with only English ``message`` cannot be shown in
    German; every refusal of the engine and the server names its message id."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT.parent))
        if rel.removeprefix("eventops/").startswith(SPEAKS_TO_THE_API):
            text = path.read_text(encoding="utf-8")
            found += [f"{rel}:{n}: {c}({t})" for n, c, t in bare_refusals(text, rel)]
    assert not found, "\n".join(found)


def test_the_refusal_scan_tells_bare_from_wrapped() -> None:
    source = """
def f(x):
    if x == 1:
        raise NotFound(f"no link {x!r}")
    if x == 2:
        raise refusal(NotFound, Msg("err.no_link", {"link": x}))
    if x == 3:
        raise Conflict(exc.one_line()).carry(exc) from None
    if x == 4:
        return Forbidden("forbidden: no")
    raise WallError(f"user {x!r}: a manual decision needs a person's user name")
"""
    assert [(n, c) for n, c, _ in bare_refusals(source, "x.py")] == [
        (4, "NotFound"),
        (10, "Forbidden"),
        (11, "WallError"),
    ]
    assert [c for _, c, _ in bare_refusals(source, "eventops/wall/manual.py")] == [
        "NotFound",
        "Forbidden",
    ]


def test_the_refusal_scan_covers_the_probe() -> None:
    """A probe's failure reaches the API and the :probe view: a new bare English one in
    eventops/probe fails the scan; only our iperf3 server's own side is let through."""
    source = """
def f(x):
    if x == 1:
        raise ProbeError(f"rate {x} out of range")
    if x == 2:
        raise ControlError("control field 'x' missing")
    if x == 3:
        raise refusal(ProbeError, Msg("probe.range.count", {"count": x}))
    raise Iperf3ProtocolError(f"{x}: silent")
"""
    assert "probe" in SPEAKS_TO_THE_API
    found = [(n, c) for n, c, _ in bare_refusals(source, "eventops/probe/sink.py")]
    assert found == [(4, "ProbeError"), (6, "ControlError"), (9, "Iperf3ProtocolError")]
    server = [c for _, c, _ in bare_refusals(source, "eventops/probe/iperf3_server.py")]
    assert server == ["ProbeError", "ControlError"]


WITH_MSG_IDS = sorted(
    {
        (f"{p.relative_to(ROOT.parent)}:{n.lineno}", n.args[0].value)
        for p in ROOT.rglob("*.py")
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call)
        and getattr(n.func, "attr", "") == "with_msg"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    }
)


@pytest.mark.parametrize(("where", "msg_id"), WITH_MSG_IDS, ids=[w for w, _ in WITH_MSG_IDS])
def test_every_literal_with_msg_id_is_in_the_catalogue(where: str, msg_id: str) -> None:
    assert msg_id in MESSAGES, where


def test_a_probes_os_failure_keeps_the_kernels_english_and_says_it_in_german() -> None:
    import errno
    import os

    from eventops.probe.checks import os_failure

    exc = os_failure("127.0.0.1:9", OSError(errno.ECONNREFUSED, "Connect call failed"))
    assert str(exc) == f"127.0.0.1:9: {os.strerror(errno.ECONNREFUSED)}"
    assert exc.msg_id is not None
    assert render(exc.msg_id, exc.params, "de") == "127.0.0.1:9: Verbindung abgelehnt"
    odd = os_failure("h:1", OSError(errno.EMFILE, "x"), "cannot open TCP stream: ")
    assert str(odd) == f"h:1: cannot open TCP stream: {os.strerror(errno.EMFILE)}"
    assert odd.msg_id is not None  # a reason without German words: the kernel's, as it is
    assert render(odd.msg_id, odd.params, "de") == f"h:1: {os.strerror(errno.EMFILE)}"


async def test_a_sink_that_goes_silent_is_named_in_german_too() -> None:
    import asyncio

    from eventops.probe.sink import _read_json

    reader = asyncio.StreamReader()
    reader.feed_eof()
    with pytest.raises(ProbeError) as closed:
        await _read_json(reader, 1.0, "sink 127.0.0.1:5301", "127.0.0.1:5301")
    assert str(closed.value) == "sink 127.0.0.1:5301: connection closed by peer"
    e = closed.value
    assert e.msg_id is not None
    assert render(e.msg_id, e.params, "de") == (
        "Senke 127.0.0.1:5301: Verbindung von der Gegenseite geschlossen"
    )
    silent = asyncio.StreamReader()
    with pytest.raises(ProbeError) as late:
        await _read_json(silent, 0.01, "sink 127.0.0.1:5301", "127.0.0.1:5301")
    assert str(late.value) == "sink 127.0.0.1:5301: no answer within 0.01 s"
    assert late.value.msg_id is not None
    assert render(late.value.msg_id, late.value.params, "de") == (
        "Senke 127.0.0.1:5301: keine Antwort binnen 0,01 s"
    )
