"""The printable handover report: one self-contained HTML file in the reader's language.

Fixed texts come from the message catalogue (``report.*``, :mod:`eventops.i18n`);
numbers get a decimal comma in German; times are in the event's zone with
the zone shown. The inline style is allowed by its hash (:func:`report_csp`).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from eventops import i18n, timefmt

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


class _R:
    """The report's language and zone: fixed texts, numbers and times."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.lang = lang if lang in i18n.LANGUAGES else "en"
        self.tz = tz

    def _t(self, msg_id: str, **params: Any) -> str:
        """A catalogue text (its parameters are HTML already, or plain numbers)."""
        return _t(msg_id, self.lang, self.tz, **params)

    def said(self, msg: Any, english: Any) -> str:
        """A stored ``{"msg_id", "params"}`` in the reader's language, else ``english``."""
        text = "" if english is None else str(english)
        if not isinstance(msg, dict) or not isinstance(msg.get("msg_id"), str):
            return text
        params = msg.get("params")
        return i18n.render(msg["msg_id"], params if isinstance(params, dict) else {}, self.lang,
                           self.tz, text)  # fmt: skip

    def n(self, value: float, spec: str) -> str:
        """A number as the reader writes it (German: 1.234,5)."""
        text = format(value, spec)
        if self.lang == "de":
            text = text.translate(_DE_DIGITS)
        return text

    def v(self, value: Any, unit: str = "", spec: str = ".2f") -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.n(value, spec) + (f" {unit}" if unit else "")
        return escape(str(value))

    def mbit(self, bps: Any) -> str:
        v = _num(bps)
        return "—" if v is None else f"{self.n(v / 1e6, ',.2f')} Mbit/s"

    def when(self, ts: str | datetime) -> str:
        """Date and time in the event's zone, the zone shown."""
        at = (timefmt.parse(ts) if isinstance(ts, str) else ts).astimezone(self.tz)
        return f"{at:%d.%m.%Y} {timefmt.clock(at, self.tz)}"


_DE_DIGITS = str.maketrans(",.", ".,")
"""1,234.5 → 1.234,5"""


def _t(msg_id: str, lang: str, tz: ZoneInfo, **params: Any) -> str:
    return i18n.render_strict(msg_id, params, lang, tz)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _check_cell(r: _R, check: dict[str, Any] | None, shown: str) -> str:
    """One figure with its limit and verdict; ``shown`` is already escaped."""
    if check is None:
        return f"<td>{shown}</td>"
    limit, unit = _num(check.get("limit")), escape(str(check.get("unit", "")))
    bound = "—" if limit is None else f"{r.n(limit, 'g')} {unit}"
    rule = r._t("report.limit_rate" if check.get("name") == "rate" else "report.limit", bound=bound)
    ok = check.get("passed") is True
    note = r.said(check.get("note_msg"), check.get("note"))
    note_html = f" <small>({escape(note)})</small>" if note else ""
    verdict = (
        f'<span class="pass">{r._t("report.pass")}</span>'
        if ok
        else f'<strong class="fail">{r._t("report.fail")}</strong>'
    )
    cls = "pass" if ok else "fail"
    return f'<td class="{cls}">{shown} <small>({rule})</small> {verdict}{note_html}</td>'


def _step_row(r: _R, step: dict[str, Any]) -> str:
    checks = {
        c.get("name"): c for c in step.get("checks") or [] if isinstance(c, dict) and c.get("name")
    }
    fig = step.get("figures") if isinstance(step.get("figures"), dict) else None
    raw_name = str(step.get("name", "—"))  # 25%, …, hold: a term in German
    name = escape(i18n.render("report.method", {"what": raw_name}, r.lang, r.tz, raw_name))
    dur = _num(step.get("duration_s"))
    head = (
        f"<th>{name}</th><td>{r.mbit(step.get('target_bps'))}"
        + (f" <small>{r._t('report.for', s=r.n(dur, 'g'))}</small>" if dur is not None else "")
        + "</td>"
    )
    verdict = r._t("report.step_pass" if step.get("passed") is True else "report.step_fail")
    if fig is None:
        err = escape(r.said(step.get("error_msg"), step.get("error")) or r._t("report.no_figures"))
        return (
            f'<tr>{head}<td colspan="4" class="fail">{err}</td><td class="fail">{verdict}</td></tr>'
        )
    rate = checks.get("rate")
    pct = _num(rate.get("value")) if rate else None
    sent_rate = r.mbit(fig.get("sender_bps"))
    achieved = r.mbit(fig.get("receiver_bps")) + (
        f" <small>{r._t('report.achieved', pct=r.n(pct, '.1f'), sent=sent_rate)}</small>"
        if pct is not None
        else f" <small>{r._t('report.sent', sent=sent_rate)}</small>"
    )
    sent, recv = _num(fig.get("sent_packets")), _num(fig.get("received_packets"))
    loss = checks.get("loss")
    loss_v = _num(loss.get("value")) if loss else None
    loss_text = "—" if loss_v is None else f"{r.n(loss_v, '.3f')} %"
    if sent is not None and recv is not None:
        lost = r._t("report.packets", lost=max(0, int(sent - recv)), sent=int(sent))
        loss_text += f" <small>{lost}</small>"
    cells = [_check_cell(r, rate, achieved), _check_cell(r, loss, loss_text)]
    for key, p99 in (("delay", "delay_p99_ms"), ("jitter", None)):
        v = _num(fig.get(f"{key}_ms"))
        text = r._t("report.not_measured") if v is None else f"{r.n(v, '.3f')} ms"
        p = _num(fig.get(p99)) if p99 else None
        if p is not None:
            text += f" <small>(p99 {r.n(p, '.3f')} ms)</small>"
        cells.append(_check_cell(r, checks.get(key), text))
    cls = "pass" if step.get("passed") is True else "fail"
    return f'<tr>{head}{"".join(cells)}<td class="{cls}"><strong>{verdict}</strong></td></tr>'


def _search_html(r: _R, search: dict[str, Any]) -> str:
    hi, hi_pct = search.get("highest_bps"), _num(search.get("highest_pct"))
    thr = _num(search.get("loss_threshold_pct"))
    found = (
        r.mbit(hi)
        + (" " + r._t("report.search_pct", pct=r.n(hi_pct, ".1f")) if hi_pct is not None else "")
        if _num(hi) is not None
        else r._t("report.search_none")
    )
    trials = [t for t in search.get("trials") or [] if isinstance(t, dict)]
    trial_rows = "".join(
        f"<tr><td>{r.mbit(t.get('rate_bps'))}</td><td>"
        + ("—" if (lv := _num(t.get("loss_pct"))) is None else f"{r.n(lv, '.3f')} %")
        + f"</td><td>{r._t('report.pass' if t.get('passed') is True else 'report.fail')}</td>"
        f"<td>{escape(r.said(t.get('note_msg'), t.get('note')))}</td></tr>"
        for t in trials
    )
    cols = "".join(
        f"<th>{r._t(k)}</th>"
        for k in ("report.col.trial", "report.col.loss", "report.col.result", "report.col.note")
    )
    threshold = "—" if thr is None else r.n(thr, "g")
    return (
        f"<h3>{r._t('report.search')}</h3>"
        f"<p>{r._t('report.search_found', loss=threshold, found=f'<strong>{found}</strong>')}</p>"
        + (f"<table><tr>{cols}</tr>{trial_rows}</table>" if trial_rows else "")
    )


def acceptance_html(acc: dict[str, Any] | None, tz: ZoneInfo, lang: str = "en") -> str:
    """The acceptance test of a handover record: verdict, every step and the hold with
    their figures against the SLA limits, the search result and the methods."""
    r = _R(lang, tz)
    if not acc:
        return f"<p>{r._t('report.acc.none')}</p>"
    passed = acc.get("passed")
    verdict = "PASSED" if passed is True else "FAILED" if passed is False else "ran"
    raw = acc.get("result")
    res: dict[str, Any] = raw if isinstance(raw, dict) else {}
    ts = acc.get("ts")
    failed = res.get("failed_step")
    head = r._t("report.acc.head", verdict=f"<strong>{r._t('report.verdict.' + verdict)}</strong>")
    if isinstance(ts, str):
        head += r._t("report.acc.at", at=r.when(ts))
    if failed:
        head += r._t("report.acc.failed_at", step=f"<strong>{escape(str(failed))}</strong>")
    if isinstance(acc.get("id"), int):
        head += r._t("report.acc.probe", id=str(int(acc["id"])))
    parts = [f"<p>{head}.</p>"]
    tput = _num(res.get("throughput_mbps"))
    facts = [
        ("report.fact.actor", escape(str(res["actor"])) if res.get("actor") else None),
        ("report.fact.rate", r.mbit(res.get("capacity_bps")) if "capacity_bps" in res else None),
        ("report.fact.layer", escape(str(res["layer"])) if res.get("layer") else None),
        ("report.fact.proven", None if tput is None else f"{r.n(tput, ',.2f')} Mbit/s"),
        (
            "report.fact.outcome",
            escape(r._t("report.outcome", outcome=str(res["outcome"])))
            if res.get("outcome")
            else None,
        ),
        ("report.fact.forced", r._t("report.forced_yes") if res.get("forced") is True else None),
    ]
    rows = "".join(f"<tr><th>{r._t(k)}</th><td>{v}</td></tr>" for k, v in facts if v is not None)
    if rows:
        parts.append(f"<table>{rows}</table>")
    steps = [s for s in res.get("steps") or [] if isinstance(s, dict)]
    hold = res.get("hold") if isinstance(res.get("hold"), dict) else None
    tests = steps + ([hold] if hold else [])
    if tests:
        body = "\n".join(_step_row(r, s) for s in tests)
        cols = ("test", "target", "achieved", "loss", "delay", "jitter", "result")
        head_row = "".join(f"<th>{r._t('report.col.' + c)}</th>" for c in cols)
        parts.append(f'<table class="steps">\n<tr>{head_row}</tr>\n{body}\n</table>')
    search = res.get("search") if isinstance(res.get("search"), dict) else None
    if search:
        parts.append(_search_html(r, search))
    methods: dict[str, list[str]] = {}
    for s in tests:
        fig = s.get("figures")
        m = fig.get("methods") if isinstance(fig, dict) else None
        said = fig.get("method_msgs") if isinstance(fig, dict) else None
        if isinstance(m, dict):
            for k, v in m.items():
                seen = methods.setdefault(str(k), [])
                how = r.said(said.get(k) if isinstance(said, dict) else None, v)
                if how not in seen:
                    seen.append(how)
    if methods:
        order = ["throughput", "loss", "delay", "jitter"]
        keys = sorted(methods, key=lambda k: (order.index(k) if k in order else len(order), k))
        mrows = "".join(
            f"<tr><th>{escape(i18n.render('report.method', {'what': k}, r.lang, tz, k))}</th>"
            f"<td>{'<br>'.join(escape(v) for v in methods[k])}</td></tr>"
            for k in keys
        )
        parts.append(f"<h3>{r._t('report.methods')}</h3><table>{mrows}</table>")
    return "\n".join(parts)


def _unproven_banner(r: _R, h: dict[str, Any]) -> str:
    """The report's first line when the link went over without proof (forced)."""
    rec = h["record"]
    text = rec.get("unproven")
    if not text:
        return ""
    proof = rec.get("proof") if isinstance(rec.get("proof"), dict) else {}
    problem, reason = proof.get("problem"), proof.get("reason")
    if isinstance(problem, str) and isinstance(reason, str):
        msg = proof.get("problem_msg")
        shown = (
            i18n.render(msg.get("msg_id"), msg.get("params"), r.lang, r.tz, problem)
            if isinstance(msg, dict)
            else problem
        )
        text = r._t(
            "report.unproven",
            actor=escape(str(h["actor"])),
            problem=escape(shown),
            reason=escape(reason),
        )
    else:  # a record from before the parts were kept: its English line as written
        text = escape(str(text))
    return f'<p class="unproven"><strong>{text}</strong></p>\n'


def handover_report(h: dict[str, Any], tz: ZoneInfo, lang: str = "en") -> str:
    """A printable HTML report of one handover record (as stored), in ``lang``."""
    r = _R(lang, tz)
    rec = h["record"]
    link, auth, ev = rec["link"], rec["authority"], rec["event"]
    when = datetime.fromisoformat(h["ts"]).astimezone(tz)
    ends_rows = "".join(
        f"<tr><th>{name.upper()}</th><td>{escape(e['device'])} {escape(e['port'])}</td>"
        f"<td>{escape(i18n.render('term.state', {'state': e['oper_status']}, r.lang, tz))}</td>"
        f"<td>{r.v(e['rx_dbm'], 'dBm')}</td>"
        f"<td>{r.v(e['tx_dbm'], 'dBm')}</td><td>{r.v(e['margin_db'], 'dB', '.1f')}</td>"
        f"<td>{r.v(e['temperature_c'], '°C', '.1f')}</td>"
        f"<td>{r.v(e['vendor'])} {r.v(e['serial'])}</td></tr>"
        for name, e in sorted(rec["ends"].items())
    )
    acc_html = acceptance_html(rec.get("acceptance"), tz, r.lang)
    sla = link.get("sla", {})
    auth_name = escape(auth["name"])
    link_name = escape(link["name"] or link["id"])
    intro = r._t(
        "report.intro",
        event=escape(ev["name"]),
        authority=f"<strong>{auth_name}</strong>",
        actor=escape(h["actor"]),
        date=f"{when:%d.%m.%Y}",
        time=timefmt.clock(when, tz),
        zone=escape(tz.key),
        id=str(h.get("id") or "—"),
    )
    sla_text = r._t(
        "report.sla_text",
        loss=r.v(sla.get("loss_pct"), spec="g"),
        delay=r.v(sla.get("delay_ms"), spec="g"),
        jitter=r.v(sla.get("jitter_ms"), spec="g"),
    )
    state = escape(i18n.render("term.state", {"state": rec.get("link_state", "—")}, r.lang, tz))
    link_rows = [
        ("report.link_id", escape(link["id"])),
        ("report.optic", escape(link["optic"])),
        ("report.length", f"{r.n(link['length_m'], '.0f')} m"),
        ("report.capacity", f"{r.n(link['capacity_mbps'], '.0f')} Mb/s"),
        ("report.sla", sla_text),
        ("report.state", state),
    ]
    link_table = "\n".join(f"<tr><th>{r._t(k)}</th><td>{v}</td></tr>" for k, v in link_rows)
    cols = ("end", "port", "oper", "rx", "tx", "margin", "temp", "module")
    end_head = "".join(f"<th>{r._t('report.col.' + c)}</th>" for c in cols)
    return f"""<!doctype html>
<html lang="{r.lang}">
<head>
<meta charset="utf-8">
<title>{r._t("report.title", link=escape(link["id"]), authority=auth_name)}</title>
<style>{REPORT_CSS}</style>
</head>
<body>
{_unproven_banner(r, h)}<h1>{r._t("report.h1", link=link_name)}</h1>
<p>{intro}</p>
<h2>{r._t("report.h.link")}</h2>
<table>
{link_table}
</table>
<h2>{r._t("report.h.baseline")}</h2>
<table>
<tr>{end_head}</tr>
{ends_rows}
</table>
<p>{r._t("report.baseline_note")}</p>
<h2>{r._t("report.h.proof")}</h2>
{acc_html}
<div class="sig"><div>{r._t("report.sig.out")}</div><div>{r._t("report.sig.in", authority=auth_name)}</div></div>
</body>
</html>
"""
