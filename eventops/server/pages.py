"""Server-rendered pages: the authority status page (the handover report is in
:mod:`eventops.server.report`; its names are re-exported here).

No external scripts, fonts or styles: the status page loads one script and
one stylesheet from this server (CSP ``'self'``); the handover report is a
single self-contained file whose inline style is allowed by its hash.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from eventops import i18n, timefmt
from eventops.server.report import REPORT_CSS as REPORT_CSS
from eventops.server.report import acceptance_html as acceptance_html
from eventops.server.report import handover_report as handover_report
from eventops.server.report import report_csp as report_csp

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
