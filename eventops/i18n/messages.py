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
    # -- terms ({field:t}) -------------------------------------------------------------------------
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
