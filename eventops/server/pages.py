"""Server-rendered pages: the authority status page and the handover report.

No external scripts, fonts or styles: the status page loads one script and
one stylesheet from this server (CSP ``'self'``); the handover report is a
single self-contained file whose inline style is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from eventops import i18n, timefmt

STATUS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _local(ts: str | None, tz: ZoneInfo, *, seconds: bool = True) -> str:
    """A time within the event's days, in its zone with the zone shown."""
    if not ts:
        return "—"
    return timefmt.day_clock(ts, tz, seconds=seconds)


def fmt_mbps(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f} Mb/s" if v >= 10 else f"{v:.1f} Mb/s"


def _t(msg_id: str, lang: str, tz: ZoneInfo, **params: Any) -> str:
    return i18n.render_strict(msg_id, params, lang, tz)


def link_cells(lv: dict[str, Any], tz: ZoneInfo, lang: str = "en") -> dict[str, str]:
    """The text of one status-page row in ``lang`` (also used by the script, via the JSON API)."""
    proof = lv.get("proof")
    if proof:
        verdict = {True: "passed", False: "FAILED", None: "ran"}[proof["passed"]]
        tp = f", {proof['throughput_mbps']:.0f} Mb/s" if proof.get("throughput_mbps") else ""
        proof_text = (
            _t("page.proof", lang, tz, kind=proof["kind"], verdict=verdict, at=proof["ts"]) + tp
        )
    else:
        proof_text = _t("page.no_proof", lang, tz)
    state = str(lv["state"])
    why = ""
    if state != "up":
        why = i18n.render(lv.get("reason_id"), lv.get("reason_params"), lang, tz, lv["reason"])
    as_of = ""
    if lv.get("stale"):
        as_of = (
            _t("fresh.as_of", lang, tz, at=lv["as_of"])
            if lv.get("as_of")
            else _t("fresh.no_data", lang, tz)
        )
    util = lv.get("utilisation_pct")
    margin = lv.get("margin_db")
    tput = None
    if lv.get("in_mbps") is not None:
        tput = max(lv["in_mbps"], lv["out_mbps"] or 0.0)
    return {
        "name": lv["name"],
        "state": _t("term.state", lang, tz, state=state).upper(),
        "why": why,
        "since": _local(lv.get("since"), tz),
        "capacity": fmt_mbps(lv["capacity_mbps"]),
        "utilisation": "—" if util is None else f"{util:.0f}% ({fmt_mbps(tput)})",
        "margin": "—" if margin is None else f"{margin:.1f} dB",
        "proof": proof_text,
        "asof": as_of,
    }


COLUMNS = ["name", "state", "why", "since", "capacity", "utilisation", "margin", "proof"]


def status_page(
    title: str,
    who: str | None,
    links: list[dict[str, Any]],
    tz: ZoneInfo,
    now: datetime,
    refresh_s: float = 5.0,
    lang: str = "en",
    *,
    map_svg: str = "",
) -> str:
    """The authority status page in ``lang`` (``who`` None: a technician, all links);
    ``map_svg`` is :func:`eventops.sitemap.render_svg`'s output (already escaped, no
    script or style: allowed by :data:`STATUS_CSP`), shown below the table."""
    rows = []
    who = _t("page.all_links", lang, tz) if who is None else who
    for lv in links:
        cells = link_cells(lv, tz, lang)
        cls = f"state-{lv['state']}" + (" stale" if lv.get("stale") else "")
        tds = "".join(
            f'<td class="c-{k}">{escape(cells[k])}'
            + (
                f' <span class="asof">{escape(cells["asof"])}</span>'
                if k == "state" and cells["asof"]
                else ""
            )
            + "</td>"
            for k in COLUMNS
        )
        rows.append(f'<tr id="link-{escape(lv["id"])}" class="{cls}">{tds}</tr>')
    head = "".join(f"<th>{escape(_t('page.col.' + k, lang, tz))}</th>" for k in COLUMNS)
    body = (
        "\n".join(rows)
        or f'<tr><td colspan="{len(COLUMNS)}">{escape(_t("page.no_links", lang, tz))}</td></tr>'
    )
    offline = _t("page.offline", lang, tz)
    updated = _t("page.updated", lang, tz)
    as_of = _t("page.as_of", lang, tz)
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(_t("page.title", lang, tz, event=title))}</title>
<link rel="stylesheet" href="/static/status.css">
<script src="/static/status.js" defer></script>
</head>
<body data-refresh-ms="{int(refresh_s * 1000)}" data-t-updated="{escape(updated)}"
 data-t-offline="{escape(offline)}" data-t-asof="{escape(as_of)}">
<header>
<h1>{escape(title)}</h1>
<p class="who">{escape(who)}</p>
<p id="updated" class="updated">{escape(updated)} {timefmt.clock(now, tz)}</p>
</header>
<main>
<table id="links">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
{f'<section id="map"><h2>{escape(_t("page.map", lang, tz))}</h2>{map_svg}</section>' if map_svg else ""}
</main>
</body>
</html>
"""


STATUS_CSS = """
:root { color-scheme: dark; }
body { margin: 0; font-family: system-ui, sans-serif; background: #101418; color: #e8eef2; }
header { display: flex; gap: 2rem; align-items: baseline; padding: 1rem 2rem; background: #1b232b; }
h1 { margin: 0; font-size: 2rem; }
.who, .updated { margin: 0; font-size: 1.2rem; color: #9fb0bd; }
main { padding: 1rem 2rem; }
table { width: 100%; border-collapse: collapse; font-size: 1.6rem; }
th { text-align: left; color: #9fb0bd; font-weight: 600; border-bottom: 2px solid #33414d; padding: .5rem; }
td { padding: .8rem .5rem; border-bottom: 1px solid #26313a; }
tr.state-up .c-state { color: #4cd07d; font-weight: 700; }
tr.state-degraded .c-state { color: #f2c94c; font-weight: 700; }
tr.state-down .c-state { color: #ff5c5c; font-weight: 700; }
tr.state-unknown .c-state { color: #9fb0bd; font-weight: 700; }
tr.stale, tr.stale td, tr.stale .c-state { color: #6b7680; filter: grayscale(1); opacity: .6; }
.asof { font-size: 1rem; font-weight: 400; }
#map h2 { font-size: 1.2rem; color: #9fb0bd; font-weight: 600; }
#map svg { max-width: 100%; height: auto; border: 1px solid #26313a; }
body.offline header { background: #3a2a10; }
body.offline tr, body.offline td { color: #6b7680; opacity: .6; }
@media print { body { background: #fff; color: #000; } header { background: #fff; } }
"""

STATUS_JS = """
"use strict";
(function () {
  var COLS = ["name", "state", "why", "since", "capacity", "utilisation", "margin", "proof"];
  var lastOk = null;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hms(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function render(data) {
    var tbody = document.querySelector("#links tbody");
    var rows = [];
    data.links.forEach(function (l) {
      var tr = document.createElement("tr");
      tr.id = "link-" + l.id;
      tr.className = "state-" + l.state + (l.stale ? " stale" : "");
      COLS.forEach(function (k) {
        var td = document.createElement("td");
        td.className = "c-" + k;
        td.textContent = l.cells[k];
        if (k === "state" && l.cells.asof) {
          var s = document.createElement("span");
          s.className = "asof";
          s.textContent = " " + l.cells.asof;
          td.appendChild(s);
        }
        tr.appendChild(td);
      });
      rows.push(tr);
    });
    tbody.replaceChildren.apply(tbody, rows);
    document.getElementById("updated").textContent = T.updated + " " + data.updated;
  }
  function tick() {
    fetch("/api/v1/status?lang=" + encodeURIComponent(document.documentElement.lang || "en"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) {
        lastOk = new Date();
        document.body.classList.remove("offline");
        render(data);
      })
      .catch(function () {
        document.body.classList.add("offline");
        var u = document.getElementById("updated");
        u.textContent = T.offline + (lastOk ? " — " + T.asof + " " + hms(lastOk) : "");
      });
  }
  var T = { updated: "updated", offline: "no connection to the engine", asof: "as of" };
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.body;
    T.updated = b.getAttribute("data-t-updated") || T.updated;
    T.offline = b.getAttribute("data-t-offline") || T.offline;
    T.asof = b.getAttribute("data-t-asof") || T.asof;
    var ms = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 5000;
    setInterval(tick, Math.max(ms, 200));
  });
})();
"""


REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #000; background: #fff; }
.unproven { border: 3px solid #b00; color: #b00; padding: .5rem; font-size: 1.1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 1.5rem; border-bottom: 1px solid #888; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border: 1px solid #bbb; }
th { background: #eee; }
h3 { font-size: 1rem; margin-top: 1rem; }
table.steps td, table.steps th { font-size: .9rem; }
td.fail, .fail { color: #a00000; }
small { color: #444; }
.sig { margin-top: 3rem; display: flex; gap: 4rem; }
.sig div { border-top: 1px solid #000; padding-top: .3rem; min-width: 16rem; }
@media print { body { margin: 1cm; } }
"""


def report_csp() -> str:
    digest = base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def _v(value: Any, unit: str = "", fmt: str = "{:.2f}") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        return fmt.format(value) + (f" {unit}" if unit else "")
    return escape(str(value))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _mbit(bps: Any) -> str:
    v = _num(bps)
    return "—" if v is None else f"{v / 1e6:,.2f} Mbit/s"


def _check_cell(check: dict[str, Any] | None, shown: str) -> str:
    """One figure with its limit and verdict; ``shown`` is already escaped."""
    if check is None:
        return f"<td>{shown}</td>"
    limit, unit = _num(check.get("limit")), escape(str(check.get("unit", "")))
    name = check.get("name")
    bound = "—" if limit is None else f"{limit:g} {unit}"
    rule = f"≥ {bound} of target" if name == "rate" else f"≤ {bound}"
    ok = check.get("passed") is True
    note = check.get("note")
    note_html = f" <small>({escape(str(note))})</small>" if note else ""
    verdict = '<span class="pass">pass</span>' if ok else '<strong class="fail">FAIL</strong>'
    return f'<td class="{"pass" if ok else "fail"}">{shown} <small>(limit {rule})</small> {verdict}{note_html}</td>'


def _step_row(step: dict[str, Any]) -> str:
    checks = {
        c.get("name"): c for c in step.get("checks") or [] if isinstance(c, dict) and c.get("name")
    }
    fig = step.get("figures") if isinstance(step.get("figures"), dict) else None
    name = escape(str(step.get("name", "—")))
    dur = _num(step.get("duration_s"))
    head = (
        f"<th>{name}</th><td>{_mbit(step.get('target_bps'))}"
        + (f" <small>for {dur:g} s</small>" if dur is not None else "")
        + "</td>"
    )
    verdict = "PASS" if step.get("passed") is True else "FAIL"
    if fig is None:
        err = escape(str(step.get("error") or "no figures"))
        return (
            f'<tr>{head}<td colspan="4" class="fail">{err}</td><td class="fail">{verdict}</td></tr>'
        )
    rate = checks.get("rate")
    pct = _num(rate.get("value")) if rate else None
    achieved = _mbit(fig.get("receiver_bps")) + (
        f" <small>= {pct:.1f} % (sent {_mbit(fig.get('sender_bps'))})</small>"
        if pct is not None
        else f" <small>(sent {_mbit(fig.get('sender_bps'))})</small>"
    )
    sent, recv = _num(fig.get("sent_packets")), _num(fig.get("received_packets"))
    loss = checks.get("loss")
    loss_v = _num(loss.get("value")) if loss else None
    loss_text = "—" if loss_v is None else f"{loss_v:.3f} %"
    if sent is not None and recv is not None:
        loss_text += f" <small>({max(0, int(sent - recv))} of {int(sent)} packets)</small>"
    cells = [_check_cell(rate, achieved), _check_cell(loss, loss_text)]
    for key, p99 in (("delay", "delay_p99_ms"), ("jitter", None)):
        v = _num(fig.get(f"{key}_ms"))
        text = "not measured" if v is None else f"{v:.3f} ms"
        if p99 and _num(fig.get(p99)) is not None:
            text += f" <small>(p99 {_num(fig.get(p99)):.3f} ms)</small>"
        cells.append(_check_cell(checks.get(key), text))
    cls = "pass" if step.get("passed") is True else "fail"
    return f'<tr>{head}{"".join(cells)}<td class="{cls}"><strong>{verdict}</strong></td></tr>'


def acceptance_html(acc: dict[str, Any] | None, tz: ZoneInfo) -> str:
    """The acceptance test of a handover record: verdict, every step and the hold with
    their figures against the SLA limits, the search result and the methods."""
    if not acc:
        return "<p>No acceptance test recorded before handover.</p>"
    verdict = {True: "PASSED", False: "FAILED", None: "ran"}.get(acc.get("passed"), "ran")
    raw = acc.get("result")
    res: dict[str, Any] = raw if isinstance(raw, dict) else {}
    ts = acc.get("ts")
    when = (
        f" at {timefmt.parse(ts).astimezone(tz):%d.%m.%Y} {timefmt.clock(ts, tz)}"
        if isinstance(ts, str)
        else ""
    )
    failed = res.get("failed_step")
    parts = [
        f"<p>Acceptance test (ITU-T Y.1564 style) <strong>{verdict}</strong>{when}"
        + (f", failed at <strong>{escape(str(failed))}</strong>" if failed else "")
        + (f" (probe result #{int(acc['id'])})" if isinstance(acc.get("id"), int) else "")
        + ".</p>"
    ]
    facts = [
        ("Run by", escape(str(res["actor"])) if res.get("actor") else None),
        ("Contracted rate", _mbit(res.get("capacity_bps")) if "capacity_bps" in res else None),
        ("Rates at layer", escape(str(res["layer"])) if res.get("layer") else None),
        (
            "Proven throughput",
            f"{_num(res.get('throughput_mbps')):,.2f} Mbit/s"
            if _num(res.get("throughput_mbps")) is not None
            else None,
        ),
        ("Outcome", escape(str(res["outcome"])) if res.get("outcome") else None),
        (
            "Forced above contract",
            "yes (confirmed and audited)" if res.get("forced") is True else None,
        ),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts if v is not None)
    if rows:
        parts.append(f"<table>{rows}</table>")
    steps = [s for s in res.get("steps") or [] if isinstance(s, dict)]
    hold = res.get("hold") if isinstance(res.get("hold"), dict) else None
    tests = steps + ([hold] if hold else [])
    if tests:
        body = "\n".join(_step_row(s) for s in tests)
        parts.append(
            '<table class="steps">\n<tr><th>Test</th><th>Target</th><th>Achieved rate</th>'
            "<th>Loss</th><th>Delay</th><th>Jitter</th><th>Result</th></tr>\n"
            f"{body}\n</table>"
        )
    search = res.get("search") if isinstance(res.get("search"), dict) else None
    if search:
        hi, hi_pct = search.get("highest_bps"), _num(search.get("highest_pct"))
        thr = _num(search.get("loss_threshold_pct"))
        found = (
            f"{_mbit(hi)}" + (f" ({hi_pct:.1f} % of the contract)" if hi_pct is not None else "")
            if _num(hi) is not None
            else "none (even the lowest rate lost too much)"
        )
        trials = [t for t in search.get("trials") or [] if isinstance(t, dict)]
        trial_rows = "".join(
            f"<tr><td>{_mbit(t.get('rate_bps'))}</td><td>"
            + ("—" if _num(t.get("loss_pct")) is None else f"{_num(t.get('loss_pct')):.3f} %")
            + f"</td><td>{'pass' if t.get('passed') is True else 'FAIL'}</td>"
            f"<td>{escape(str(t.get('note') or ''))}</td></tr>"
            for t in trials
        )
        parts.append(
            "<h3>Throughput search (RFC 2544 style)</h3>"
            f"<p>Highest rate with loss ≤ {'—' if thr is None else f'{thr:g}'} %: "
            f"<strong>{found}</strong>.</p>"
            + (
                "<table><tr><th>Trial rate</th><th>Loss</th><th>Result</th><th>Note</th></tr>"
                f"{trial_rows}</table>"
                if trial_rows
                else ""
            )
        )
    methods: dict[str, list[str]] = {}
    for s in tests:
        fig = s.get("figures")
        m = fig.get("methods") if isinstance(fig, dict) else None
        if isinstance(m, dict):
            for k, v in m.items():
                seen = methods.setdefault(str(k), [])
                if str(v) not in seen:
                    seen.append(str(v))
    if methods:
        order = ["throughput", "loss", "delay", "jitter"]
        keys = sorted(methods, key=lambda k: (order.index(k) if k in order else len(order), k))
        mrows = "".join(
            f"<tr><th>{escape(k)}</th><td>{'<br>'.join(escape(v) for v in methods[k])}</td></tr>"
            for k in keys
        )
        parts.append(f"<h3>How the figures were measured</h3><table>{mrows}</table>")
    return "\n".join(parts)


def _unproven_banner(rec: dict[str, Any]) -> str:
    """The report's first line when the link went over without proof (forced)."""
    text = rec.get("unproven")
    if not text:
        return ""
    return f'<p class="unproven"><strong>{escape(str(text))}</strong></p>\n'


def handover_report(h: dict[str, Any], tz: ZoneInfo) -> str:
    """A printable HTML report of one handover record (as stored)."""
    rec = h["record"]
    link, auth, ev = rec["link"], rec["authority"], rec["event"]
    when = datetime.fromisoformat(h["ts"]).astimezone(tz)
    ends_rows = "".join(
        f"<tr><th>{name.upper()}</th><td>{escape(e['device'])} {escape(e['port'])}</td>"
        f"<td>{escape(e['oper_status'])}</td><td>{_v(e['rx_dbm'], 'dBm')}</td>"
        f"<td>{_v(e['tx_dbm'], 'dBm')}</td><td>{_v(e['margin_db'], 'dB', '{:.1f}')}</td>"
        f"<td>{_v(e['temperature_c'], '°C', '{:.1f}')}</td>"
        f"<td>{_v(e['vendor'])} {_v(e['serial'])}</td></tr>"
        for name, e in sorted(rec["ends"].items())
    )
    acc_html = acceptance_html(rec.get("acceptance"), tz)
    sla = link.get("sla", {})
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Handover {escape(link["id"])} to {escape(auth["name"])}</title>
<style>{REPORT_CSS}</style>
</head>
<body>
{_unproven_banner(rec)}<h1>Handover of fibre link {escape(link["name"] or link["id"])}</h1>
<p>{escape(ev["name"])} — handed over to <strong>{escape(auth["name"])}</strong>
by {escape(h["actor"])} on {when:%d.%m.%Y} at {timefmt.clock(when, tz)} ({escape(tz.key)}). Record #{h.get("id") or "—"}.</p>
<h2>Link</h2>
<table>
<tr><th>Link id</th><td>{escape(link["id"])}</td></tr>
<tr><th>Optic</th><td>{escape(link["optic"])}</td></tr>
<tr><th>Length</th><td>{link["length_m"]:.0f} m</td></tr>
<tr><th>Contracted capacity</th><td>{link["capacity_mbps"]:.0f} Mb/s</td></tr>
<tr><th>SLA</th><td>loss ≤ {sla.get("loss_pct", "—")} %, delay ≤ {sla.get("delay_ms", "—")} ms,
jitter ≤ {sla.get("jitter_ms", "—")} ms</td></tr>
<tr><th>State at handover</th><td>{escape(rec.get("link_state", "—"))}</td></tr>
</table>
<h2>Optical baseline</h2>
<table>
<tr><th>End</th><th>Port</th><th>Oper</th><th>Rx</th><th>Tx</th><th>Rx margin</th><th>Temp</th><th>Module</th></tr>
{ends_rows}
</table>
<p>Later readings are compared with this baseline: a drop of 2 dB or more points to a bend
or a dirty connector.</p>
<h2>Proof of throughput</h2>
{acc_html}
<div class="sig"><div>Handed over (event IT)</div><div>Received ({escape(auth["name"])})</div></div>
</body>
</html>
"""
