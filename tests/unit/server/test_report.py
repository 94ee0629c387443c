"""The handover report carries the acceptance figures: steps, hold, search, methods."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eventops.api.models.acceptance import AcceptanceConfig, AcceptanceResult, Figures
from eventops.clock import FakeClock
from eventops.errors import ProbeError
from eventops.probe.acceptance import run_acceptance
from eventops.server.pages import handover_report
from eventops.store import SQLiteStore
from eventops.store.models import ProbeResultRow
from tests.unit.test_acceptance import ScriptedLink, make_link

from .conftest import Served

TZ = ZoneInfo("Europe/Berlin")
HOSTILE = '<script>alert("x")</script>'


def record(acceptance: dict[str, Any] | None) -> dict[str, Any]:
    end = {
        "device": "sw-core",
        "port": "Ethernet1/1",
        "oper_status": "UP",
        "rx_dbm": -8.0,
        "tx_dbm": -5.0,
        "margin_db": 11.0,
        "temperature_c": 40.0,
        "vendor": "FS",
        "serial": "X1",
    }
    return {
        "id": 7,
        "ts": "2026-06-18T12:00:00+00:00",
        "actor": "technik",
        "record": {
            "link": {
                "id": "fibre-police",
                "name": "MoGlI",
                "optic": "1000BASE-LX",
                "length_m": 850.0,
                "capacity_mbps": 100.0,
                "sla": {"loss_pct": 0.1, "delay_ms": 2.0, "jitter_ms": 0.5},
            },
            "authority": {"id": "police", "name": "Polizei"},
            "event": {"id": "demo", "name": "Demo", "timezone": "Europe/Berlin"},
            "ends": {"a": end, "b": {**end, "device": "mc-police", "port": "sfp0"}},
            "acceptance": acceptance,
            "link_state": "up",
        },
    }


async def accept(tmp_path: Path, measure: Any, **cfg: Any) -> AcceptanceResult:
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        return await run_acceptance(
            make_link(100.0),
            measure,
            store,
            actor="anna",
            config=AcceptanceConfig(**{"step_duration_s": 5.0, "hold_duration_s": 60.0, **cfg}),
            clock=FakeClock(),
        )


def stored(result: AcceptanceResult) -> dict[str, Any]:
    assert result.finished_at is not None
    return {
        "id": 3,
        "ts": result.finished_at.isoformat(),
        "passed": result.passed,
        "result": result.model_dump(mode="json"),
    }


def row_of(html: str, name: str) -> str:
    row = next(r for r in html.split("<tr>") if r.startswith(f"<th>{name}</th>"))
    return row[: row.index("</tr>")]


async def test_a_failing_step_is_named_with_its_figures_limits_and_verdicts(
    tmp_path: Path,
) -> None:
    lossy = ScriptedLink(100e6, loss_pct=2.0)

    async def measure(rate_bps: float, duration_s: float) -> Figures:
        f = await lossy(rate_bps, duration_s)
        return f.model_copy(update={"methods": {"delay": HOSTILE, "jitter": "STAMP & co"}})

    result = await accept(tmp_path, measure, search=True, search_loss_pct=0.5)
    assert result.failed_step == "25%" and result.search is not None
    html = handover_report(record(stored(result)), TZ)
    assert "<strong>FAILED</strong>" in html and "failed at <strong>25%</strong>" in html
    row = row_of(html, "25%")
    f = result.steps[0].figures
    assert f is not None
    assert "25.00 Mbit/s <small>for 5 s</small>" in row
    assert f"{f.loss_pct:.3f} % <small>({f.lost_packets} of {f.sent_packets} packets)" in row
    assert f'<td class="fail">{f.loss_pct:.3f} %' in row
    assert '(limit ≤ 0.1 %)</small> <strong class="fail">FAIL</strong>' in row
    assert '0.400 ms <small>(limit ≤ 2 ms)</small> <span class="pass">pass' in row
    assert '0.050 ms <small>(limit ≤ 0.5 ms)</small> <span class="pass">pass' in row
    assert row.endswith('<td class="fail"><strong>FAIL</strong></td>')
    assert "<th>hold</th>" not in html  # the run stopped at the failing step
    # the search: nothing passes at 0.5 % with 2 % loss
    assert "Highest rate with loss ≤ 0.5 %: <strong>none" in html
    assert html.count("<td>FAIL</td>") == len(result.search.trials) == 2
    # methods, escaped
    assert HOSTILE not in html and escape(HOSTILE) in html
    assert "STAMP &amp; co" in html


async def test_a_passing_run_shows_steps_hold_and_search(tmp_path: Path) -> None:
    result = await accept(tmp_path, ScriptedLink(100e6), search=True)
    html = handover_report(record(stored(result)), TZ)
    assert "<strong>PASSED</strong>" in html and "failed at" not in html
    for name in ("25%", "50%", "75%", "100%", "hold"):
        row = row_of(html, name)
        assert row.count(">pass<") == 4 and row.endswith("<strong>PASS</strong></td>")
    assert "100.00 Mbit/s <small>for 60 s</small>" in row_of(html, "hold")
    assert f"<tr><th>Proven throughput</th><td>{result.throughput_mbps:,.2f} Mbit/s" in html
    assert "Highest rate with loss ≤ 0.1 %: <strong>100.00 Mbit/s (100.0 % of the contract)" in html


async def test_a_broken_measurement_and_hostile_text_are_escaped(tmp_path: Path) -> None:
    async def broken(rate_bps: float, duration_s: float) -> Figures:
        raise ProbeError(f"127.0.0.1:5301: {HOSTILE}")

    result = await accept(tmp_path, broken)
    acc = stored(result)
    acc["result"]["actor"] = HOSTILE
    html = handover_report(record(acc), TZ)
    assert "<script>" not in html
    row = row_of(html, "25%")
    assert '<td colspan="4" class="fail">127.0.0.1:5301: &lt;script&gt;' in row
    assert row.endswith('</td><td class="fail">FAIL</td>')


def test_older_and_partial_records_still_render() -> None:
    old = {"id": 1, "ts": "2026-06-18T11:00:00+00:00", "passed": True,
           "result": {"throughput_mbps": 497.5, "loss_pct": 0.0}}  # fmt: skip
    html = handover_report(record(old), TZ)
    assert "<strong>PASSED</strong>" in html and "497.50 Mbit/s" in html
    html = handover_report(record({"passed": None, "result": {"steps": [{"name": 5}]}}), TZ)
    assert "<strong>ran</strong>" in html and "<th>5</th>" in html
    assert "No acceptance test recorded" in handover_report(record(None), TZ)


def _english_words() -> set[str]:
    """Words of the report's English texts that no German text uses."""
    import re
    import string

    from eventops.i18n import MESSAGES

    def words(t: str) -> set[str]:
        lit = "".join(x for x, _, _, _ in string.Formatter().parse(t))
        return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", lit)}

    german = set().union(*(words(e["de"]) for e in MESSAGES.values()))
    english = set().union(*(words(e["en"]) for k, e in MESSAGES.items() if k.startswith("report.")))
    return english - german


async def test_the_report_in_german_has_no_english_and_decimal_commas(tmp_path: Path) -> None:
    """Issue 16 (one language): the printable report in the reader's language."""
    import re

    result = await accept(tmp_path, ScriptedLink(100e6, loss_pct=2.0), search=True)
    rec = record(stored(result))
    rec["record"]["unproven"] = "HANDED OVER UNPROVEN by technik: x. Reason given: y"
    rec["record"]["proof"] = {  # as the engine stores a forced handover's proof
        "problem": "no acceptance test of the link is recorded",
        "problem_msg": {"msg_id": "proof.none", "params": {}},
        "reason": "Einsatz läuft",
    }
    html = handover_report(rec, TZ, "de")
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body).replace("fibre-police", "")  # an id, not English
    english = _english_words()
    assert {"handed", "baseline", "measured", "packets", "limit"} <= english
    leaked = {w for w in re.findall(r"[A-Za-z]{4,}", text) if w.lower() in english}
    assert not leaked, (leaked, text)
    assert '<html lang="de">' in html
    first = body.split("<body>", 1)[1].lstrip()
    assert first.startswith(
        '<p class="unproven"><strong>OHNE NACHWEIS ÜBERGEBEN von technik: keine Abnahme der '
        "Strecke aufgezeichnet. Angegebener Grund: Einsatz läuft</strong>"
    )
    assert "Angegebener Grund: Einsatz läuft" in html
    assert "Übergabe der Glasfaserstrecke MoGlI" in html and "Durchsatznachweis" in html
    assert "am 18.06.2026 um 14:00:00 CEST (Europe/Berlin)" in html  # the event's zone
    assert "<td>850 m</td>" in html and "Verlust ≤ 0,1 %, Verzögerung ≤ 2 ms" in html
    assert "<td>-8,00 dBm</td>" in html and "<td>in Betrieb</td>" in html  # oper UP
    row = row_of(html, "25%")
    assert "25,00 Mbit/s <small>für 5 s</small>" in row
    assert '(Grenze ≤ 0,1 %)</small> <strong class="fail">NICHT BESTANDEN</strong>' in row
    assert "Höchste Rate mit Verlust ≤ 0,5 %" not in html  # the default threshold is 0.1
    assert "Höchste Rate mit Verlust ≤ 0,1 %: <strong>keine" in html
    # the same record in English is the English report, with its first line as stored
    en = handover_report(rec, TZ)
    assert "HANDED OVER UNPROVEN by technik: no acceptance test of the link is recorded" in en
    assert "Reason given: Einsatz läuft" in en and "25.00 Mbit/s <small>for 5 s</small>" in en


async def test_status_page_shows_an_acceptance_stored_by_another_process(served: Served) -> None:
    # `eventops probe accept` writes straight into the event's store, not through the engine
    await served.store.add_probe_result(
        ProbeResultRow(
            ts=served.clock.now(),
            target="fibre-police",
            kind="acceptance",
            passed=False,
            result={"throughput_mbps": 241.5, "failed_step": "75%", "steps": []},
        )
    )
    _, before = await served.get("/api/v1/status", "police")
    assert before["links"][0]["cells"]["proof"] == "no proof yet"
    last = served.engine.bus.last_id
    await served.to(served.clock.monotonic() + served.engine.profile.polling.fibre_interval_s)
    seen = served.engine.bus.since(last) or []
    _, after = await served.get("/api/v1/status", "police")
    assert after["links"][0]["cells"]["proof"].startswith("acceptance FAILED ")
    assert after["links"][0]["cells"]["proof"].endswith(", 242 Mb/s")
    assert [(e.type, e.subject, e.data["kind"]) for e in seen if e.type == "probe"] == [
        ("probe", "fibre-police", "acceptance")
    ]
    _, link = await served.get("/api/v1/links/fibre-police", "technik")
    [check] = [c for c in link["checks"] if c["name"] == "probe"]
    assert check["reason"].startswith("last acceptance failed at ")


async def test_the_german_report_says_how_each_figure_was_measured_in_german(
    tmp_path: Path,
) -> None:
    """Issue 16 follow-up: the report's "how the figures were measured" lines come from the
    probe's messages (a real run against a sink and a STAMP reflector on loopback), not from
    the English the probe stores next to them for scripts."""
    import re
    import string

    from eventops import probe
    from eventops.i18n import MESSAGES
    from eventops.i18n.messages_probe import PROBE_MESSAGES
    from eventops.probe.accept_measure import ProbeMeasure

    sink = await probe.start_sink("127.0.0.1", 0)
    refl = await probe.start_reflector("127.0.0.1", 0, stateful=True)
    try:
        measure = ProbeMeasure(("127.0.0.1", sink.port), ("127.0.0.1", refl.port))
        result = await accept(
            tmp_path, measure, steps_pct=[10.0], step_duration_s=0.3, hold_duration_s=0.0
        )
    finally:
        await sink.close()
        await refl.close()
    figures = result.steps[0].figures
    assert figures is not None and set(figures.method_msgs) == set(figures.methods)

    def section(html: str, title: str) -> str:
        return html.split(f"<h3>{title}</h3>", 1)[1].split("</table>", 1)[0]

    en = section(handover_report(record(stored(result)), TZ), "How the figures were measured")
    for how in figures.methods.values():  # English: the probe's own words, unchanged
        assert escape(how) in en, how
    de_html = handover_report(record(stored(result)), TZ, "de")
    de = section(de_html, "Wie die Werte gemessen wurden")
    for german in (
        "<th>Durchsatz</th>",
        "Empfängerzähler des ",  # batched or not: as the kernel allows
        "-Datenstroms über die Sendedauer; Schicht l2",
        "halbe mittlere STAMP-Umlaufzeit, unter Last gemessen: STAMP-Umlaufzeit",
        "<th>Verzögerung</th>",
    ):
        assert german in de, (german, de)

    def words(text: str) -> set[str]:
        literal = "".join(lit for lit, _, _, _ in string.Formatter().parse(text))
        return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", literal)}

    german_words = set().union(*(words(e["de"]) for e in MESSAGES.values()))
    english = set().union(*(words(e["en"]) for e in PROBE_MESSAGES.values())) - german_words
    assert {"receiver", "counters", "half", "round", "trip"} <= english
    text = re.sub(r"<[^>]+>", " ", de)
    leaked = {w for w in re.findall(r"[A-Za-z]{4,}", text) if w.lower() in english}
    assert not leaked, (leaked, text)
    # the sustained test is named in German too
    held = await accept(tmp_path / "hold", ScriptedLink(100e6))
    assert "<th>Dauertest</th>" in handover_report(record(stored(held)), TZ, "de")
