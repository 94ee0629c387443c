"""The message catalogue: id → {language: template}.

Ids are grouped by what creates them: checks (``radio.*``, ``uplink.*``,
``rx.*`` …), alerts (``alert.*``), poll failures (``poll.*``), the health and
freshness summaries, terms (``term.*``, looked up by ``{field:t}``) and the
fixed text of the status page and the handover report (``page.*``,
``report.*``). Field syntax: see :mod:`eventops.i18n`.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # -- generic -------------------------------------------------------------------------
    "check.ok": {"de": "in Ordnung", "en": "ok"},
    "check.not_available": {"de": "nicht verfügbar: {why}", "en": "not available: {why}"},
    "check.not_offered": {
        "de": "{obj} wird vom Gerät nicht angeboten",
        "en": "{obj} not offered",
    },
    # -- mast radios -----------------------------------------------------------------------
    "radio.missing": {"de": "Funkmodul {band} fehlt", "en": "{band} radio missing"},
    "radio.down": {
        "de": "Funkmodul {band} ({radio}) ist aus",
        "en": "{band} radio {radio} is down",
    },
    "radio.up": {"de": "Funkmodul {band} in Betrieb", "en": "{band} radio up"},
    "radio.channel": {
        "de": "{band} auf Kanal {channel}, vorgesehen {want}",
        "en": "{band} on channel {channel}, provisioned {want}",
    },
    "radio.width": {
        "de": "{band} mit {width} MHz Kanalbreite, vorgesehen {want}",
        "en": "{band} width {width} MHz, provisioned {want}",
    },
    "radio.txpower_high": {
        "de": "{band} Sendeleistung {dbm:g} dBm über den vorgesehenen {want:g} dBm",
        "en": "{band} tx power {dbm:g} dBm above provisioned {want:g} dBm",
    },
    "radio.txpower_low": {
        "de": "{band} Sendeleistung {dbm:g} dBm, vorgesehen {want:g} dBm",
        "en": "{band} tx power {dbm:g} dBm, provisioned {want:g} dBm",
    },
    "radio.clients": {"de": "{n} Clients auf {band}", "en": "{n} clients on {band}"},
    "radio.busy": {
        "de": "{band}-Kanal zu {pct:.0f} % belegt",
        "en": "{band} channel {pct:.0f}% busy",
    },
    "radio.noise": {
        "de": "{band} Grundrauschen {dbm:g} dBm",
        "en": "{band} noise floor {dbm:g} dBm",
    },
    # -- mast uplink and system ----------------------------------------------------------------
    "uplink.unreported": {"de": "Zuleitung nicht gemeldet", "en": "uplink not reported"},
    "uplink.no_carrier": {
        "de": "Zuleitung {iface} ohne Trägersignal",
        "en": "uplink {iface} has no carrier",
    },
    "uplink.slow": {
        "de": "Zuleitung {iface} mit {mbps:g} Mb/s (erwartet {want:g})",
        "en": "uplink {iface} at {mbps:g} Mb/s (expected {want:g})",
    },
    "uplink.up": {"de": "Zuleitung {iface} in Betrieb", "en": "uplink {iface} up"},
    "cpu.load": {"de": "Systemlast {load:.2f}", "en": "load {load:.2f}"},
    "memory.free": {"de": "{pct:.0f} % Speicher frei", "en": "{pct:.0f}% memory free"},
    "reboot.first": {"de": "erste Abfrage", "en": "first poll"},
    "reboot.rebooted": {
        "de": "neu gestartet (Laufzeit {uptime:.0f} s, zuvor {was:.0f} s)",
        "en": "rebooted (uptime {uptime:.0f} s, was {was:.0f} s)",
    },
    "reboot.up": {"de": "läuft seit {uptime:.0f} s", "en": "up {uptime:.0f} s"},
    # -- fibre ends ----------------------------------------------------------------------------
    "rx.none": {"de": "kein Empfangspegel gemeldet", "en": "no rx power reading"},
    "rx.power": {
        "de": "Empfang {dbm:.1f} dBm, Reserve {margin:.1f} dB ({optic})",
        "en": "rx {dbm:.1f} dBm, margin {margin:.1f} dB ({optic})",
    },
    "module.no_rx": {"de": "kein Empfangswert", "en": "no rx reading"},
    "module.within": {"de": "innerhalb der Modulschwellen", "en": "within module thresholds"},
    "module.below": {
        "de": "Empfang {dbm:.1f} dBm unter der Modulschwelle ({sev:t}) {limit:g} dBm",
        "en": "rx {dbm:.1f} dBm below module {sev} {limit:g} dBm",
    },
    "module.above": {
        "de": "Empfang {dbm:.1f} dBm über der Modulschwelle ({sev:t}) {limit:g} dBm",
        "en": "rx {dbm:.1f} dBm above module {sev} {limit:g} dBm",
    },
    "drift.no_baseline": {"de": "kein Übergabe-Referenzwert", "en": "no baseline"},
    "drift.drop": {
        "de": "Empfang {drop:+.1f} dB unter dem Übergabe-Referenzwert {baseline:.1f} dBm",
        "en": "rx {drop:+.1f} dB below handover baseline {baseline:.1f} dBm",
    },
    "drift.within": {
        "de": "höchstens {drop:.1f} dB unter dem Referenzwert",
        "en": "within {drop:.1f} dB of baseline",
    },
    "rate.none": {"de": "noch keine Rate", "en": "no rate yet"},
    "rate.unavailable": {"de": "keine Rate: {why}", "en": "no rate: {why}"},
    "rate.out_of_order": {"de": "Messwerte in falscher Reihenfolge", "en": "readings out of order"},
    "rate.clock_jump": {
        "de": "Uhr gesprungen ({wall:+.0f} s Uhrzeit in {secs:.0f} s)",
        "en": "clock jumped ({wall:+.0f} s on the wall clock in {secs:.0f} s)",
    },
    "rate.clock_back": {
        "de": "Uhr zurückgestellt ({wall:+.0f} s)",
        "en": "clock went backwards ({wall:+.0f} s)",
    },
    "rate.short": {
        "de": "Abstand zu kurz für eine Rate ({secs:.1f} s zwischen Messungen, "
        "die {read:.1f} s dauerten)",
        "en": "interval too short for a rate ({secs:.1f} s between readings "
        "that took {read:.1f} s)",
    },
    "rate.rebooted": {
        "de": "Gerät neu gestartet (Laufzeit gesunken)",
        "en": "device rebooted (uptime went down)",
    },
    "rate.device_clock": {
        "de": "Geräteuhr gesprungen (Laufzeit +{up:.0f} s in {secs:.0f} s)",
        "en": "device clock jumped (uptime +{up:.0f} s in {secs:.0f} s)",
    },
    "rate.counter_wrapped": {
        "de": "Zähler übergelaufen ({counter})",
        "en": "counter wrapped ({counter})",
    },
    "rate.counter_reset": {
        "de": "Zähler zurückgesetzt ({counter})",
        "en": "counter reset ({counter})",
    },
    "rate.impossible": {
        "de": "unmögliche Rate verworfen ({pct:.0f} % von {capacity:g} Mb/s)",
        "en": "impossible rate discarded ({pct:.0f} % of {capacity:g} Mb/s)",
    },
    "errors.count": {
        "de": "{n} Eingangsfehler in {secs:.0f} s",
        "en": "{n} input errors in {secs:.0f} s",
    },
    "errors.none": {"de": "keine Fehler", "en": "no errors"},
    "flaps.stable": {"de": "Trägersignal stabil", "en": "carrier stable"},
    "flaps.count": {
        "de": "Trägersignal {n}-mal gewechselt in {secs:.0f} s",
        "en": "carrier changed {n} times in {secs:.0f} s",
    },
    "util.pct": {
        "de": "{pct:.0f} % von {capacity:g} Mb/s",
        "en": "{pct:.0f}% of {capacity:g} Mb/s",
    },
    "end.unreachable": {"de": "{device} nicht erreichbar", "en": "{device} unreachable"},
    "port.unreported": {
        "de": "{device} {port} nicht gemeldet",
        "en": "{device} {port} not reported",
    },
    "port.status": {"de": "{device} {port} ist {status:t}", "en": "{device} {port} is {status}"},
    "port.up": {"de": "{device} {port} in Betrieb", "en": "{device} {port} up"},
    # -- links and probes ----------------------------------------------------------------------
    "link.both_unreachable": {
        "de": "beide Enden nicht erreichbar",
        "en": "both ends unreachable",
    },
    "link.down": {"de": "ausgefallen: {why}", "en": "down: {why}"},
    "link.up": {"de": "in Betrieb", "en": "up"},
    "probe.none": {"de": "noch kein Nachweis", "en": "no proof yet"},
    "probe.failed": {
        "de": "letzte Messung ({kind:t}) um {at:time} nicht bestanden",
        "en": "last {kind} failed at {at:time}",
    },
    "probe.passed": {"de": "letzte Messung ({kind:t}) bestanden", "en": "last {kind} passed"},
    "probe.ran": {"de": "letzte Messung ({kind:t}) gelaufen", "en": "last {kind} ran"},
    # -- health and freshness ------------------------------------------------------------------
    "health.unreachable": {"de": "nicht erreichbar", "en": "unreachable"},
    "health.more": {"de": "{reason} (+{n} weitere)", "en": "{reason} (+{n} more)"},
    "health.not_polled": {"de": "noch nicht abgefragt", "en": "not polled yet"},
    "fresh.no_data": {"de": "noch keine Daten", "en": "no data yet"},
    "fresh.as_of": {"de": "Stand {at:time}", "en": "as of {at:time}"},
    # -- why a poll failed ---------------------------------------------------------------------
    "poll.timeout": {"de": "keine Antwort binnen {s:g} s", "en": "no answer within {s:g} s"},
    "poll.no_connection": {"de": "keine Verbindung", "en": "no connection"},
    "poll.no_answer": {"de": "keine Antwort", "en": "no answer"},
    "poll.auth": {"de": "Anmeldung abgelehnt", "en": "login refused"},
    "poll.denied": {"de": "Zugriff verweigert", "en": "access denied"},
    "poll.protocol": {"de": "fehlerhafte Antwort", "en": "faulty answer"},
    "poll.failed": {"de": "Abfrage fehlgeschlagen", "en": "poll failed"},
    # -- alerts --------------------------------------------------------------------------------
    "alert.upstream_down": {
        "de": "{device} nicht erreichbar: Zuleitung {upstream} ausgefallen",
        "en": "{device} unreachable: upstream {upstream} down",
    },
    "alert.unreachable": {"de": "{device} nicht erreichbar", "en": "{device} unreachable"},
    "alert.unreachable_why": {
        "de": "{device} nicht erreichbar: {why}",
        "en": "{device} unreachable: {why}",
    },
    "alert.device": {"de": "{device}: {check}", "en": "{device}: {check}"},
    "alert.link_down": {"de": "{link} ausgefallen: {why}", "en": "{link} down: {why}"},
    "alert.link": {"de": "{link}: {check}", "en": "{link}: {check}"},
    # -- the event's standby engine (eventops.engine.presence, eventops.engine.readings) -------
    "health.stored": {
        "de": "letzte Abfrage der aktiven Engine, {at:time}",
        "en": "last poll by the active engine, {at:time}",
    },
    "alert.standby_gone": {
        "de": "keine Standby-Engine seit {since:day} (zuletzt {address})",
        "en": "no standby engine since {since:day} (last: {address})",
    },
    "alert.standby_missing": {
        "de": "keine Standby-Engine seit {since:day}",
        "en": "no standby engine since {since:day}",
    },
    # -- the authority status page ------------------------------------------------------------
    "page.title": {"de": "{event} — Streckenstatus", "en": "{event} — link status"},
    "page.all_links": {"de": "alle Strecken (Technik)", "en": "all links (technician)"},
    "page.updated": {"de": "aktualisiert", "en": "updated"},
    "page.offline": {"de": "keine Verbindung zur Engine", "en": "no connection to the engine"},
    "page.no_links": {
        "de": "Für Sie gibt es in dieser Veranstaltung keine Strecken.",
        "en": "No links for you in this event.",
    },
    "page.col.name": {"de": "Strecke", "en": "Link"},
    "page.col.state": {"de": "Zustand", "en": "State"},
    "page.col.why": {"de": "Grund", "en": "Reason"},
    "page.col.since": {"de": "Seit", "en": "Since"},
    "page.col.capacity": {"de": "Kapazität", "en": "Capacity"},
    "page.col.utilisation": {"de": "Auslastung", "en": "Utilisation"},
    "page.col.margin": {"de": "Empfangsreserve", "en": "Rx margin"},
    "page.col.proof": {"de": "letzter Durchsatznachweis", "en": "Last throughput proof"},
    # -- the site map (eventops.sitemap: the status page's SVG) -------------------------------
    "page.map": {"de": "Lageplan", "en": "Map"},
    "map.state.up": {"de": "in Betrieb", "en": "up"},
    "map.state.degraded": {"de": "gestört", "en": "degraded"},
    "map.state.down": {"de": "ausgefallen", "en": "down"},
    "map.state.unknown": {"de": "keine Daten", "en": "no data"},
    "map.no_coordinates": {
        "de": "keine Koordinaten im Profil",
        "en": "no coordinates in the profile",
    },
    "page.proof": {"de": "{kind:t} {verdict:t} {at:day}", "en": "{kind} {verdict} {at:day}"},
    "page.no_proof": {"de": "noch kein Nachweis", "en": "no proof yet"},
    "page.as_of": {"de": "Stand", "en": "as of"},
    "term.state": {"de": "{state:t}", "en": "{state}"},
    "term.passed": {"de": "bestanden", "en": "passed"},
    "term.FAILED": {"de": "NICHT BESTANDEN", "en": "FAILED"},
    "term.ran": {"de": "gelaufen", "en": "ran"},
    # -- why a link has no proof (eventops.engine.handover) -------------------------------------
    "proof.none": {
        "de": "keine Abnahme der Strecke aufgezeichnet",
        "en": "no acceptance test of the link is recorded",
    },
    "proof.older": {
        "de": "die letzte Abnahme (Nr. {id}, {at:stamp}) ist älter als die letzte Änderung: "
        "{change}",
        "en": "the latest acceptance test (#{id}, {at:stamp}) is older than the last change: "
        "{change}",
    },
    "proof.failed": {
        "de": "die letzte Abnahme (Nr. {id}, {at:stamp}) ist fehlgeschlagen",
        "en": "the latest acceptance test (#{id}, {at:stamp}) failed",
    },
    "proof.failed_step": {
        "de": "die letzte Abnahme (Nr. {id}, {at:stamp}) ist bei Stufe {step} fehlgeschlagen",
        "en": "the latest acceptance test (#{id}, {at:stamp}) failed at step {step}",
    },
    "proof.restarted": {
        "de": "{change}, nach Beginn der letzten Abnahme (Nr. {id}, {at:stamp})",
        "en": "{change}, after the latest acceptance test (#{id}, {at:stamp}) began",
    },
    "handover.unproven": {
        "de": "{link} nicht übergeben: kein Nachweis ({problem}); zuerst eine Abnahme "
        "durchführen oder mit Begründung erzwingen",
        "en": "{link} not handed over: no proof ({problem}); run an acceptance test first, "
        "or force it with a reason",
    },
    "change.unfinished": {
        "de": "{kind:t} Nr. {id} auf {device} ist nicht abgeschlossen",
        "en": "{kind} #{id} on {device} has not finished",
    },
    "change.apply": {
        "de": "{kind:t} Nr. {id} hat {device} geändert ({result:t}) um {at:stamp}",
        "en": "{kind} #{id} changed {device} ({result}) at {at:stamp}",
    },
    "change.reload_link": {
        "de": "ein Neuladen des Profils hat die Strecke {link} geändert um {at:stamp}",
        "en": "a profile reload changed link {link} at {at:stamp}",
    },
    "change.reload_device": {
        "de": "ein Neuladen des Profils hat {device} geändert um {at:stamp}",
        "en": "a profile reload changed {device} at {at:stamp}",
    },
    "change.restarted": {
        "de": "{device} neu gestartet um {at:stamp}",
        "en": "{device} restarted at {at:stamp}",
    },
    "report.outcome": {"de": "{outcome:t}", "en": "{outcome}"},
    # -- the printable handover report (eventops.server.report) ------------------------------
    "report.title": {
        "de": "Übergabe {link} an {authority}",
        "en": "Handover {link} to {authority}",
    },
    "report.h1": {
        "de": "Übergabe der Glasfaserstrecke {link}",
        "en": "Handover of fibre link {link}",
    },
    "report.intro": {
        "de": "{event} — übergeben an {authority} von {actor} am {date} um {time} ({zone}). Protokoll Nr. {id}.",
        "en": "{event} — handed over to {authority} by {actor} on {date} at {time} ({zone}). Record #{id}.",
    },
    "report.h.link": {"de": "Strecke", "en": "Link"},
    "report.link_id": {"de": "Strecken-ID", "en": "Link id"},
    "report.optic": {"de": "Optik", "en": "Optic"},
    "report.length": {"de": "Länge", "en": "Length"},
    "report.capacity": {"de": "Vertragliche Kapazität", "en": "Contracted capacity"},
    "report.sla": {"de": "Dienstgüte (SLA)", "en": "SLA"},
    "report.sla_text": {
        "de": "Verlust ≤ {loss} %, Verzögerung ≤ {delay} ms, Jitter ≤ {jitter} ms",
        "en": "loss ≤ {loss} %, delay ≤ {delay} ms, jitter ≤ {jitter} ms",
    },
    "report.state": {"de": "Zustand bei Übergabe", "en": "State at handover"},
    "report.h.baseline": {"de": "Optischer Referenzwert", "en": "Optical baseline"},
    "report.col.end": {"de": "Ende", "en": "End"},
    "report.col.port": {"de": "Anschluss", "en": "Port"},
    "report.col.oper": {"de": "Betrieb", "en": "Oper"},
    "report.col.rx": {"de": "Empfang", "en": "Rx"},
    "report.col.tx": {"de": "Senden", "en": "Tx"},
    "report.col.margin": {"de": "Empfangsreserve", "en": "Rx margin"},
    "report.col.temp": {"de": "Temperatur", "en": "Temp"},
    "report.col.module": {"de": "Modul", "en": "Module"},
    "report.baseline_note": {
        "de": "Spätere Messwerte werden mit diesem Referenzwert verglichen: ein Abfall um 2 dB oder mehr deutet auf einen Knick oder einen verschmutzten Stecker.",
        "en": "Later readings are compared with this baseline: a drop of 2 dB or more points to a bend or a dirty connector.",
    },
    "report.h.proof": {"de": "Durchsatznachweis", "en": "Proof of throughput"},
    "report.sig.out": {"de": "Übergeben (Veranstaltungs-IT)", "en": "Handed over (event IT)"},
    "report.sig.in": {"de": "Übernommen ({authority})", "en": "Received ({authority})"},
    "report.unproven": {
        "de": "OHNE NACHWEIS ÜBERGEBEN von {actor}: {problem}. Angegebener Grund: {reason}",
        "en": "HANDED OVER UNPROVEN by {actor}: {problem}. Reason given: {reason}",
    },
    "report.acc.none": {
        "de": "Vor der Übergabe wurde keine Abnahme aufgezeichnet.",
        "en": "No acceptance test recorded before handover.",
    },
    "report.acc.head": {
        "de": "Abnahme (nach ITU-T Y.1564) {verdict}",
        "en": "Acceptance test (ITU-T Y.1564 style) {verdict}",
    },
    "report.acc.at": {"de": " am {at}", "en": " at {at}"},
    "report.acc.failed_at": {"de": ", nicht bestanden bei {step}", "en": ", failed at {step}"},
    "report.acc.probe": {"de": " (Messergebnis Nr. {id})", "en": " (probe result #{id})"},
    "report.verdict.PASSED": {"de": "BESTANDEN", "en": "PASSED"},
    "report.verdict.FAILED": {"de": "NICHT BESTANDEN", "en": "FAILED"},
    "report.verdict.ran": {"de": "gelaufen", "en": "ran"},
    "report.fact.actor": {"de": "Durchgeführt von", "en": "Run by"},
    "report.fact.rate": {"de": "Vertragliche Rate", "en": "Contracted rate"},
    "report.fact.layer": {"de": "Raten auf Schicht", "en": "Rates at layer"},
    "report.fact.proven": {"de": "Nachgewiesener Durchsatz", "en": "Proven throughput"},
    "report.fact.outcome": {"de": "Ausgang", "en": "Outcome"},
    "report.fact.forced": {"de": "Über dem Vertrag erzwungen", "en": "Forced above contract"},
    "report.forced_yes": {
        "de": "ja (bestätigt und protokolliert)",
        "en": "yes (confirmed and audited)",
    },
    "report.col.test": {"de": "Test", "en": "Test"},
    "report.col.target": {"de": "Ziel", "en": "Target"},
    "report.col.achieved": {"de": "Erreichte Rate", "en": "Achieved rate"},
    "report.col.loss": {"de": "Verlust", "en": "Loss"},
    "report.col.delay": {"de": "Verzögerung", "en": "Delay"},
    "report.col.jitter": {"de": "Jitter", "en": "Jitter"},
    "report.col.result": {"de": "Ergebnis", "en": "Result"},
    "report.col.trial": {"de": "Versuchsrate", "en": "Trial rate"},
    "report.col.note": {"de": "Hinweis", "en": "Note"},
    "report.limit_rate": {"de": "Grenze ≥ {bound} des Ziels", "en": "limit ≥ {bound} of target"},
    "report.limit": {"de": "Grenze ≤ {bound}", "en": "limit ≤ {bound}"},
    "report.pass": {"de": "bestanden", "en": "pass"},
    "report.fail": {"de": "NICHT BESTANDEN", "en": "FAIL"},
    "report.step_pass": {"de": "BESTANDEN", "en": "PASS"},
    "report.step_fail": {"de": "NICHT BESTANDEN", "en": "FAIL"},
    "report.for": {"de": "für {s} s", "en": "for {s} s"},
    "report.achieved": {"de": "= {pct} % (gesendet {sent})", "en": "= {pct} % (sent {sent})"},
    "report.sent": {"de": "(gesendet {sent})", "en": "(sent {sent})"},
    "report.packets": {"de": "({lost} von {sent} Paketen)", "en": "({lost} of {sent} packets)"},
    "report.not_measured": {"de": "nicht gemessen", "en": "not measured"},
    "report.no_figures": {"de": "keine Messwerte", "en": "no figures"},
    "report.search": {
        "de": "Durchsatzsuche (nach RFC 2544)",
        "en": "Throughput search (RFC 2544 style)",
    },
    "report.search_found": {
        "de": "Höchste Rate mit Verlust ≤ {loss} %: {found}.",
        "en": "Highest rate with loss ≤ {loss} %: {found}.",
    },
    "report.search_pct": {"de": "({pct} % des Vertrags)", "en": "({pct} % of the contract)"},
    "report.search_none": {
        "de": "keine (schon die niedrigste Rate verlor zu viel)",
        "en": "none (even the lowest rate lost too much)",
    },
    "report.method": {"de": "{what:t}", "en": "{what}"},
    "report.methods": {
        "de": "Wie die Werte gemessen wurden",
        "en": "How the figures were measured",
    },
    # -- timeline entries (eventops.monitor.history) -------------------------------------------
    "tl.probe": {"de": "{kind:t} {verdict:t}", "en": "{kind} {verdict}"},
    "tl.moderation": {"de": "{actor}: {action:t}", "en": "{actor}: {action}"},
    "tl.moderation_why": {
        "de": "{actor}: {action:t} ({reason})",
        "en": "{actor}: {action} ({reason})",
    },
    "tl.handover": {
        "de": "{actor} hat {link} an {authority} übergeben",
        "en": "{actor} handed {link} over to {authority}",
    },
    "tl.audit": {"de": "{actor}: {action:t} {target}", "en": "{actor}: {action} {target}"},
    # -- terms ({field:t}) -------------------------------------------------------------------------
    "term.loss": {"de": "Verlust", "en": "loss"},
    "term.delay": {"de": "Verzögerung", "en": "delay"},
    "term.jitter": {"de": "Jitter", "en": "jitter"},
    "term.failed": {"de": "fehlgeschlagen", "en": "failed"},
    "term.aborted": {"de": "abgebrochen", "en": "aborted"},
    "term.apply": {"de": "Anwenden", "en": "apply"},
    "term.rollback": {"de": "Zurückrollen", "en": "rollback"},
    "term.applied": {"de": "angewendet", "en": "applied"},
    "term.rolled_back": {"de": "zurückgerollt", "en": "rolled back"},
    "term.restored": {"de": "wiederhergestellt", "en": "restored"},
    # -- moderation decisions (a post's history) -------------------------------------------------
    "term.approve": {"de": "freigegeben", "en": "approved"},
    "term.queue": {"de": "zur Prüfung", "en": "queued"},
    "term.reject": {"de": "abgelehnt", "en": "rejected"},
    "term.pin": {"de": "angeheftet", "en": "pinned"},
    "term.unpin": {"de": "losgelöst", "en": "unpinned"},
    "term.take_down": {"de": "abgenommen", "en": "taken down"},
    "term.block_author": {"de": "Autor gesperrt", "en": "author blocked"},
    "term.hide": {"de": "ausgeblendet", "en": "hidden"},
    "term.undo": {"de": "rückgängig gemacht", "en": "undone"},
    "term.deleted": {"de": "an der Quelle gelöscht", "en": "deleted at the source"},
    # -- audited actions (the timeline's audit entries) ------------------------------------------
    "term.alert.ack": {"de": "Alarm bestätigt", "en": "alert acknowledged"},
    "term.alert.silence": {"de": "stummgeschaltet", "en": "silenced"},
    "term.alert.unsilence": {"de": "Stummschaltung aufgehoben", "en": "silence removed"},
    "term.device.maintenance": {"de": "Wartung", "en": "maintenance"},
    "term.device.reboot": {"de": "Neustart", "en": "reboot"},
    "term.link.handover": {"de": "Strecke übergeben", "en": "link handed over"},
    "term.profile.reload": {"de": "Profil neu geladen", "en": "profile reloaded"},
    "term.probe.accept": {"de": "Abnahme", "en": "acceptance"},
    "term.probe.accept.start": {"de": "Abnahme begonnen", "en": "acceptance started"},
    "term.probe.accept.force": {
        "de": "Abnahme über dem Vertrag erzwungen",
        "en": "acceptance above the contract forced",
    },
    "term.probe.accept.refused": {"de": "Abnahme abgelehnt", "en": "acceptance refused"},
    "term.probe.stamp": {"de": "STAMP-Messung", "en": "STAMP probe"},
    "term.probe.stamp.start": {"de": "STAMP-Messung begonnen", "en": "STAMP probe started"},
    "term.probe.throughput": {"de": "Durchsatzmessung", "en": "throughput probe"},
    "term.probe.throughput.start": {
        "de": "Durchsatzmessung begonnen",
        "en": "throughput probe started",
    },
    "term.provision.plan": {"de": "Plan erstellt", "en": "plan made"},
    "term.provision.apply": {"de": "Konfiguration angewendet", "en": "config applied"},
    "term.provision.apply.start": {"de": "Anwenden begonnen", "en": "apply started"},
    "term.provision.apply.refused": {"de": "Anwenden abgelehnt", "en": "apply refused"},
    "term.provision.apply.interrupted": {"de": "Anwenden unterbrochen", "en": "apply interrupted"},
    "term.provision.rollback": {"de": "zurückgerollt", "en": "rolled back"},
    "term.provision.rollback.start": {"de": "Zurückrollen begonnen", "en": "rollback started"},
    "term.provision.rollback.refused": {
        "de": "Zurückrollen abgelehnt",
        "en": "rollback refused",
    },
    "term.provision.rollback.interrupted": {
        "de": "Zurückrollen unterbrochen",
        "en": "rollback interrupted",
    },
    "term.provision.restore": {"de": "Konfiguration wiederhergestellt", "en": "config restored"},
    "term.wall.approve": {"de": "Beitrag freigegeben", "en": "post approved"},
    "term.wall.reject": {"de": "Beitrag abgelehnt", "en": "post rejected"},
    "term.wall.pin": {"de": "Beitrag angeheftet", "en": "post pinned"},
    "term.wall.unpin": {"de": "Beitrag losgelöst", "en": "post unpinned"},
    "term.wall.take_down": {"de": "Beitrag abgenommen", "en": "post taken down"},
    "term.wall.block_author": {"de": "Autor gesperrt", "en": "author blocked"},
    "term.wall.hide": {"de": "Beitrag ausgeblendet", "en": "post hidden"},
    "term.wall.undo": {"de": "Entscheidung rückgängig gemacht", "en": "decision undone"},
    "term.wall.block": {"de": "Autor gesperrt", "en": "author blocked"},
    "term.wall.unblock": {"de": "Sperre aufgehoben", "en": "block lifted"},
    "term.wall.pause": {"de": "Wand angehalten", "en": "wall paused"},
    "term.wall.resume": {"de": "Wand fortgesetzt", "en": "wall resumed"},
    "term.wall.purge": {"de": "alte Beiträge gelöscht", "en": "old posts purged"},
    "term.wall.forget": {"de": "Autor vergessen (DSGVO)", "en": "author forgotten (GDPR)"},
    "term.wall.announcement.issue": {"de": "Durchsage veröffentlicht", "en": "announcement issued"},
    "term.wall.announcement.withdraw": {
        "de": "Durchsage zurückgezogen",
        "en": "announcement withdrawn",
    },
    "term.acceptance": {"de": "Abnahme", "en": "acceptance"},
    "term.stamp": {"de": "STAMP", "en": "STAMP"},
    "term.throughput": {"de": "Durchsatz", "en": "throughput"},
    "term.iperf3": {"de": "iperf3", "en": "iperf3"},
    "term.DOWN": {"de": "außer Betrieb", "en": "down"},
    "term.LOWER_LAYER_DOWN": {"de": "ohne Trägersignal", "en": "lower layer down"},
    "term.UP": {"de": "in Betrieb", "en": "up"},
    "term.TESTING": {"de": "im Test", "en": "testing"},
    "term.UNKNOWN": {"de": "unbekannt", "en": "unknown"},
    "term.DORMANT": {"de": "ruhend", "en": "dormant"},
    "term.NOT_PRESENT": {"de": "nicht vorhanden", "en": "not present"},
    "term.critical": {"de": "kritisch", "en": "critical"},
    "term.major": {"de": "schwer", "en": "major"},
    "term.alarm": {"de": "Alarm", "en": "alarm"},
    "term.minor": {"de": "leicht", "en": "minor"},
    "term.warning": {"de": "Warnung", "en": "warning"},
    "term.info": {"de": "Info", "en": "info"},
    "term.up": {"de": "in Betrieb", "en": "up"},
    "term.degraded": {"de": "gestört", "en": "degraded"},
    "term.down": {"de": "ausgefallen", "en": "down"},
    "term.unknown": {"de": "unbekannt", "en": "unknown"},
}
