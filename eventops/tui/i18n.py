"""Every string of the terminal app, in German and English.

One table, key → {language: text}; ``{name}`` placeholders are filled by
:class:`Tr`. A unit test checks that every key has both languages with the
same placeholders, and that every key the app uses exists.
"""

from __future__ import annotations

import string
from typing import Any

LANGUAGES = ("de", "en")

STRINGS: dict[str, dict[str, str]] = {
    # bindings (by binding id)
    "app.command": {"de": "Befehl", "en": "command"},
    "app.filter": {"de": "Filter", "en": "filter"},
    "app.back": {"de": "zurück", "en": "back"},
    "app.help": {"de": "Hilfe", "en": "help"},
    "app.quit": {"de": "Beenden", "en": "quit"},
    "row.mark": {"de": "markieren", "en": "mark"},
    "row.sort": {"de": "sortieren", "en": "sort"},
    "device.maintenance": {"de": "Wartung an/aus", "en": "maintenance on/off"},
    "device.reboot": {"de": "Neustart", "en": "reboot"},
    "alert.goto": {"de": "zum Gerät", "en": "go to device"},
    "alert.ack": {"de": "quittieren", "en": "acknowledge"},
    "alert.silence": {"de": "stummschalten", "en": "silence"},
    "timeline.reload": {"de": "neu laden", "en": "reload"},
    "timeline.cleared": {"de": "behoben: {text}", "en": "cleared: {text}"},
    "tl.alert.raised": {"de": "Alarm", "en": "alert.raised"},
    "tl.alert.cleared": {"de": "Alarm behoben", "en": "alert.cleared"},
    "tl.probe": {"de": "Messung", "en": "probe"},
    "tl.moderation": {"de": "Moderation", "en": "moderation"},
    "tl.handover": {"de": "Übergabe", "en": "handover"},
    # the Provision view (eventops/tui/provision.py)
    "provision.back": {"de": "zurück", "en": "back"},
    "provision.plan": {"de": "neu planen", "en": "plan again"},
    "provision.apply": {"de": "anwenden", "en": "apply"},
    "provision.rollback": {"de": "zurückrollen", "en": "roll back"},
    "prov.col.device": {"de": "Gerät", "en": "device"},
    "prov.col.state": {"de": "Plan", "en": "plan"},
    "prov.col.changes": {"de": "Änderungen", "en": "changes"},
    "prov.col.step": {"de": "Fortschritt", "en": "progress"},
    "prov.state.change": {"de": "ändern", "en": "to change"},
    "prov.state.unchanged": {"de": "unverändert", "en": "unchanged"},
    "prov.state.unreachable": {"de": "unerreichbar", "en": "unreachable"},
    "prov.state.error": {"de": "Fehler", "en": "error"},
    "prov.planning": {
        "de": "Plane … (lese jedes Gerät)",
        "en": "Planning … (reading every device)",
    },
    "prov.summary": {
        "de": "Plan: {change} zu ändern, {unchanged} unverändert, {unreachable} nicht lesbar",
        "en": "Plan: {change} to change, {unchanged} unchanged, {unreachable} not readable",
    },
    "prov.dangerous": {
        "de": "{n} gefährliche Änderung(en): Bestätigung durch Eintippen",
        "en": "{n} dangerous change(s): typed confirmation needed",
    },
    "prov.in_sync": {"de": "Entspricht dem Profil", "en": "Matches the profile"},
    "prov.nothing": {"de": "Nichts zu ändern", "en": "Nothing to change"},
    "prov.apply_q": {"de": "Auf {n} Gerät(e) anwenden?", "en": "Apply to {n} device(s)?"},
    "prov.type_confirm": {
        "de": "{n} gefährliche Änderung(en). Zum Bestätigen die Veranstaltungs-ID „{phrase}“ eintippen:",
        "en": "{n} dangerous change(s). Type the event id “{phrase}” to confirm:",
    },
    "prov.applying": {"de": "Anwenden #{id} läuft …", "en": "Apply #{id} running …"},
    "prov.progress": {
        "de": "#{id}: {done}/{total} Geräte fertig",
        "en": "#{id}: {done}/{total} devices done",
    },
    "prov.no_applies": {"de": "Noch nichts angewendet", "en": "Nothing applied yet"},
    "prov.rollback_pick": {
        "de": "Zu welchem Stand zurück?",
        "en": "Back to which recorded state?",
    },
    "prov.rollback_confirm": {
        "de": "Stand von #{id} wieder anwenden: Veranstaltungs-ID „{phrase}“ eintippen:",
        "en": "Re-apply the state of #{id}: type the event id “{phrase}”:",
    },
    "prov.rolling_back": {
        "de": "Zurückrollen #{id} (auf #{of}) läuft …",
        "en": "Rollback #{id} (to #{of}) running …",
    },
    "wall.states": {"de": "Auswahl wechseln", "en": "switch list"},
    "wall.approve": {"de": "freigeben", "en": "approve"},
    "wall.reject": {"de": "ablehnen", "en": "reject"},
    "wall.pin": {"de": "anheften/lösen", "en": "pin/unpin"},
    "wall.take_down": {"de": "zurückziehen", "en": "take down"},
    "wall.block": {"de": "Autor sperren", "en": "block author"},
    "wall.undo": {"de": "rückgängig", "en": "undo"},
    "wall.announce": {"de": "Durchsage", "en": "announce"},
    "wall.withdraw": {"de": "Durchsage beenden", "en": "withdraw announcement"},
    "wall.pause": {"de": "Wall pausieren/fortsetzen", "en": "pause/resume wall"},
    "detail.back": {"de": "zurück", "en": "back"},
    "dialog.cancel": {"de": "abbrechen", "en": "cancel"},
    "dialog.yes": {"de": "ja", "en": "yes"},
    "dialog.no": {"de": "nein", "en": "no"},
    "help.close": {"de": "schließen", "en": "close"},
    # columns
    "col.id": {"de": "ID", "en": "ID"},
    "col.kind": {"de": "Art", "en": "Kind"},
    "col.site": {"de": "Standort", "en": "Site"},
    "col.state": {"de": "Zustand", "en": "State"},
    "col.clients": {"de": "Clients", "en": "Clients"},
    "col.trend": {"de": "Verlauf", "en": "Trend"},
    "col.uptime": {"de": "Laufzeit", "en": "Uptime"},
    "col.reason": {"de": "Grund", "en": "Reason"},
    "col.name": {"de": "Name", "en": "Name"},
    "col.util": {"de": "Last", "en": "Util"},
    "col.rx": {"de": "Rx dBm", "en": "Rx dBm"},
    "col.margin": {"de": "Reserve dB", "en": "Margin dB"},
    "col.handed": {"de": "Übergeben an", "en": "Handed to"},
    "col.severity": {"de": "Schwere", "en": "Severity"},
    "col.subject": {"de": "Betrifft", "en": "Subject"},
    "col.summary": {"de": "Meldung", "en": "Summary"},
    "col.since": {"de": "Seit", "en": "Since"},
    "col.acked": {"de": "Quittiert", "en": "Acked by"},
    "col.time": {"de": "Zeit", "en": "Time"},
    "col.text": {"de": "Text", "en": "Text"},
    "col.ts": {"de": "Zeit", "en": "Time"},
    "col.author": {"de": "Autor", "en": "Author"},
    "col.media": {"de": "Medien", "en": "Media"},
    "col.rule": {"de": "Regel", "en": "Rule"},
    "sorted_by": {"de": "sortiert nach {col}", "en": "sorted by {col}"},
    # states, kinds, severities, roles
    "state.up": {"de": "in Betrieb", "en": "up"},
    "state.degraded": {"de": "gestört", "en": "degraded"},
    "state.down": {"de": "ausgefallen", "en": "down"},
    "state.unknown": {"de": "unbekannt", "en": "unknown"},
    "kind.mast": {"de": "Mast", "en": "mast"},
    "kind.switch": {"de": "Switch", "en": "switch"},
    "kind.media-converter": {"de": "Medienkonverter", "en": "media converter"},
    "sev.critical": {"de": "kritisch", "en": "critical"},
    "sev.warning": {"de": "Warnung", "en": "warning"},
    "sev.info": {"de": "Info", "en": "info"},
    "role.technician": {"de": "Technik", "en": "technician"},
    "role.authority": {"de": "Behörde", "en": "authority"},
    "role.comms": {"de": "Kommunikation", "en": "comms"},
    "read_only": {"de": "nur lesen", "en": "read-only"},
    # interface oper-status (OpenConfig), short for the detail's table
    "oper.UP": {"de": "an", "en": "UP"},
    "oper.DOWN": {"de": "aus", "en": "DOWN"},
    "oper.LOWER_LAYER_DOWN": {"de": "o.Träger", "en": "LOWER_LAYER_DOWN"},
    "oper.TESTING": {"de": "Test", "en": "TESTING"},
    "oper.DORMANT": {"de": "ruhend", "en": "DORMANT"},
    "oper.NOT_PRESENT": {"de": "fehlt", "en": "NOT_PRESENT"},
    "oper.UNKNOWN": {"de": "unbek.", "en": "UNKNOWN"},
    # views
    "view.pulse": {"de": "Überblick", "en": "Pulse"},
    "view.masts": {"de": "Masten", "en": "Masts"},
    "view.devices": {"de": "Geräte", "en": "Devices"},
    "view.links": {"de": "Strecken", "en": "Links"},
    "view.alerts": {"de": "Alarme", "en": "Alerts"},
    "view.timeline": {"de": "Chronik", "en": "Timeline"},
    "view.none": {"de": "Kommunikation", "en": "Comms"},
    "view.wall": {"de": "Social Wall", "en": "Social wall"},
    "none.comms": {
        "de": "Für diese Rolle bietet diese Engine noch keine Ansicht (die Social Wall fehlt hier).",
        "en": "This engine offers no view for this role yet (the social wall is not part of it).",
    },
    # pulse
    "pulse.masts": {"de": "WLAN-Masten", "en": "WLAN masts"},
    "pulse.links": {"de": "Strecken", "en": "Links"},
    "pulse.margin": {"de": "kleinste Reserve", "en": "lowest margin"},
    "pulse.alerts": {"de": "offene Alarme", "en": "open alerts"},
    "pulse.clients": {"de": "WLAN-Clients", "en": "WLAN clients"},
    "pulse.apply": {"de": "Anwendung läuft", "en": "Apply running"},
    "pulse.kind.apply": {"de": "Anwenden", "en": "apply"},
    "pulse.kind.rollback": {"de": "Zurückrollen", "en": "rollback"},
    "pulse.probe": {"de": "Messung läuft", "en": "Probe running"},
    "pulse.as_of": {"de": "Stand", "en": "as of"},
    "pulse.wall": {"de": "Wall-Warteschlange", "en": "wall queue"},
    "pulse.announcement": {"de": "Durchsage", "en": "announcement"},
    "header.wall": {"de": "Wall: {n} wartend", "en": "wall: {n} pending"},
    "stale": {"de": "veraltet", "en": "stale"},
    # connection
    "conn.live": {"de": "live", "en": "live"},
    "conn.lost": {"de": "getrennt", "en": "disconnected"},
    "conn.connecting": {"de": "verbinde …", "en": "connecting …"},
    "banner.lost": {"de": "Keine Verbindung zur Engine", "en": "No connection to the engine"},
    "banner.stale": {
        "de": "– angezeigte Daten von {at}, veraltet.",
        "en": "– data shown is from {at}, stale.",
    },
    "banner.retry": {"de": "Neuer Versuch läuft …", "en": "Retrying …"},
    # detail
    "detail.gone": {"de": "Nicht (mehr) vorhanden.", "en": "Not (or no longer) present."},
    "detail.uplink": {"de": "Zuleitung", "en": "Uplink"},
    "detail.maintenance": {"de": "Wartung", "en": "Maintenance"},
    "detail.as_of": {"de": "Daten von", "en": "Data as of"},
    "detail.ends": {"de": "Enden", "en": "Ends"},
    "detail.traffic": {"de": "Verkehr ein/aus", "en": "Traffic in/out"},
    "detail.proof": {"de": "letzter Nachweis", "en": "Last proof"},
    "detail.history": {"de": "Letzte Stunde", "en": "Last hour"},
    "detail.checks": {"de": "Prüfungen", "en": "Checks"},
    "detail.links": {"de": "Strecken", "en": "Links"},
    "detail.alerts": {"de": "Letzte Alarme", "en": "Recent alerts"},
    "detail.facts": {"de": "Gerät", "en": "Facts"},
    "detail.radios": {"de": "Funkmodule", "en": "Radios"},
    "detail.wlan_clients": {"de": "WLAN-Clients", "en": "WLAN clients"},
    "detail.interfaces": {"de": "Schnittstellen", "en": "Interfaces"},
    "detail.optics": {"de": "Optiken (beide Enden)", "en": "Optics (both ends)"},
    "detail.col.iface": {"de": "Schnittst.", "en": "iface"},
    "detail.col.ssid": {"de": "SSID", "en": "SSID"},
    "detail.col.band": {"de": "Band", "en": "band"},
    "detail.col.channel": {"de": "Kan.", "en": "chan"},
    "detail.col.width": {"de": "MHz", "en": "MHz"},
    "detail.col.txpower": {"de": "dBm", "en": "dBm"},
    "detail.col.noise": {"de": "Rausch", "en": "noise"},
    "detail.col.util": {"de": "Last%", "en": "util%"},
    "detail.col.mac": {"de": "MAC", "en": "MAC"},
    "detail.col.signal": {"de": "Signal", "en": "signal"},
    "detail.col.rx_rate": {"de": "RX Mb/s", "en": "rx Mb/s"},
    "detail.col.tx_rate": {"de": "TX Mb/s", "en": "tx Mb/s"},
    "detail.col.oper": {"de": "Status", "en": "oper"},
    "detail.col.speed": {"de": "Mbit/s", "en": "Mbit/s"},
    "detail.col.in_err": {"de": "Fehl.ein", "en": "in err"},
    "detail.col.out_err": {"de": "Fehl.aus", "en": "out err"},
    "detail.col.flaps": {"de": "Flaps", "en": "flaps"},
    "detail.col.port": {"de": "Port", "en": "port"},
    "detail.col.rx": {"de": "RX dBm", "en": "rx dBm"},
    "detail.col.tx": {"de": "TX dBm", "en": "tx dBm"},
    "detail.col.bias": {"de": "Bias mA", "en": "bias mA"},
    "detail.col.temp": {"de": "°C", "en": "°C"},
    "detail.col.link": {"de": "Strecke", "en": "link"},
    "reboot.confirm": {
        "de": "{dev} neu starten? Zur Bestätigung die Geräte-ID „{dev}“ eingeben:",
        "en": "Reboot {dev}? Type the device id “{dev}” to confirm:",
    },
    "reboot.mismatch": {
        "de": "Eingabe stimmt nicht: kein Neustart.",
        "en": "Not the device id: no reboot.",
    },
    "reboot.sent": {"de": "Neustart von {dev} ausgelöst.", "en": "Reboot of {dev} sent."},
    "yes": {"de": "ja", "en": "yes"},
    "no": {"de": "nein", "en": "no"},
    "none": {"de": "keine", "en": "none"},
    # palette, help, commands
    "palette.view": {"de": "Ansicht öffnen", "en": "open view"},
    "palette.theme": {"de": "Farbschema", "en": "Theme"},
    "help.title": {"de": "Aktive Tasten", "en": "Active keys"},
    "help.palette": {"de": "Befehlspalette", "en": "command palette"},
    "no_such_view": {"de": "Ansicht {name} gibt es hier nicht", "en": "no view {name} here"},
    "unknown_command": {"de": "Unbekannter Befehl: {cmd}", "en": "Unknown command: {cmd}"},
    "error": {"de": "Fehler", "en": "Error"},
    # actions
    "ack.prompt": {
        "de": "{n} Alarm(e) quittieren – Notiz (Enter bestätigt, Esc bricht ab):",
        "en": "Acknowledge {n} alert(s) – note (enter confirms, esc cancels):",
    },
    "ack.done": {"de": "{n} Alarm(e) quittiert", "en": "{n} alert(s) acknowledged"},
    "silence.prompt": {
        "de": "{n} Alarm(e) stummschalten – Minuten:",
        "en": "Silence {n} alert(s) – minutes:",
    },
    "silence.bad": {
        "de": "Dauer: eine Zahl von Minuten (höchstens 7 Tage)",
        "en": "duration: a number of minutes (at most 7 days)",
    },
    "silence.done": {"de": "{n} Alarm(e) stummgeschaltet", "en": "{n} alert(s) silenced"},
    "maint.on": {"de": "Wartung für {dev} einschalten?", "en": "Put {dev} into maintenance?"},
    "maint.off": {"de": "Wartung für {dev} beenden?", "en": "End maintenance for {dev}?"},
    "confirm.yn": {"de": "[j/n]", "en": "[y/n]"},
    # the wall
    "wall.state.pending": {"de": "wartend", "en": "pending"},
    "wall.state.approved": {"de": "freigegeben", "en": "approved"},
    "wall.state.rejected": {"de": "abgelehnt", "en": "rejected"},
    "wall.state.hidden": {"de": "verborgen", "en": "hidden"},
    "wall.state.taken_down": {"de": "zurückgezogen", "en": "taken down"},
    "wall.state.all": {"de": "alle", "en": "all"},
    "wall.paused": {"de": "pausiert", "en": "paused"},
    "wall.empty": {"de": "Kein Beitrag ausgewählt.", "en": "No post selected."},
    "wall.showing": {"de": "Zeige: {state}", "en": "Showing: {state}"},
    "wall.did.approve": {"de": "freigegeben", "en": "approved"},
    "wall.did.reject": {"de": "abgelehnt", "en": "rejected"},
    "wall.did.pin": {"de": "angeheftet/gelöst", "en": "pinned/unpinned"},
    "wall.did.take_down": {"de": "zurückgezogen", "en": "taken down"},
    "wall.did.block_author": {"de": "Autor gesperrt", "en": "author blocked"},
    "wall.done": {"de": "{n} Beitrag/Beiträge: {action}", "en": "{n} post(s): {action}"},
    "wall.block_q": {
        "de": "{author} sperren und alle Beiträge verbergen?",
        "en": "Block {author} and hide all their posts?",
    },
    "wall.nothing_to_undo": {
        "de": "Nichts rückgängig zu machen",
        "en": "Nothing to undo",
    },
    "wall.undone": {"de": "{n} Entscheidung(en) zurückgenommen", "en": "{n} decision(s) undone"},
    "wall.no_templates": {
        "de": "Das Profil hat keine Durchsagen-Vorlagen",
        "en": "The profile has no announcement templates",
    },
    "wall.pick": {"de": "Welche Durchsage?", "en": "Which announcement?"},
    "wall.announce_q": {
        "de": "„{title}“ auf allen Bildschirmen zeigen?",
        "en": "Show “{title}” on every screen?",
    },
    "wall.announced": {"de": "Durchsage läuft", "en": "Announcement on the screens"},
    "wall.no_announcement": {"de": "Keine Durchsage aktiv", "en": "No announcement is active"},
    "wall.withdraw_q": {"de": "Durchsage „{title}“ beenden?", "en": "Withdraw “{title}”?"},
    "wall.withdrawn": {"de": "Durchsage beendet", "en": "Announcement withdrawn"},
    "wall.pause_q": {
        "de": "Wall pausieren (Veranstaltungsfolie auf allen Bildschirmen)?",
        "en": "Pause the wall (the event slide on every screen)?",
    },
    "wall.resume_q": {"de": "Wall fortsetzen?", "en": "Resume the wall?"},
    # the probe view (technicians)
    "view.probe": {"de": "Messung", "en": "Probe"},
    "probe.stamp": {"de": "STAMP-Messung", "en": "STAMP probe"},
    "probe.throughput": {"de": "Durchsatz", "en": "throughput"},
    "probe.accept": {"de": "Abnahme", "en": "acceptance"},
    "probe.export": {"de": "Ergebnis exportieren", "en": "export result"},
    "probe.pick": {"de": "Strecke wählen (↑↓)", "en": "pick a link (↑↓)"},
    "probe.no_links": {"de": "Keine Strecken", "en": "No links"},
    "probe.idle": {
        "de": "s STAMP · t Durchsatz · a Abnahme · e exportieren",
        "en": "s STAMP · t throughput · a acceptance · e export",
    },
    "probe.running": {"de": "{kind} auf {link} läuft …", "en": "{kind} on {link} running …"},
    "probe.busy": {"de": "Es läuft schon eine Messung", "en": "A probe is already running"},
    "probe.failed": {"de": "Messung fehlgeschlagen", "en": "Probe failed"},
    "probe.rate_q": {
        "de": "Rate und Dauer für {link} (z. B. 100M 5)",
        "en": "Rate and duration for {link} (e.g. 100M 5)",
    },
    "probe.accept_q": {
        "de": "Abnahme {link}: Sekunden je Stufe und Haltezeit (z. B. 5 60)",
        "en": "Acceptance of {link}: seconds per step and hold (e.g. 5 60)",
    },
    "probe.bad_input": {"de": "Ungültige Eingabe: {text}", "en": "Not valid: {text}"},
    "probe.export_q": {
        "de": "Ergebnis als JSON speichern unter",
        "en": "Save the result as JSON to",
    },
    "probe.exported": {"de": "Gespeichert: {path}", "en": "Saved: {path}"},
    "probe.nothing": {"de": "Noch kein Ergebnis", "en": "No result yet"},
    "probe.live": {"de": "Verlauf", "en": "Live"},
    "probe.result": {"de": "Ergebnis", "en": "Result"},
    "probe.proof": {"de": "Nachweis der Strecke", "en": "Link's proof"},
    # the map view (eventops/tui/screens/map.py)
    "view.map": {"de": "Karte", "en": "Map"},
    "map.next": {"de": "nächstes", "en": "next"},
    "map.prev": {"de": "voriges", "en": "previous"},
    "map.open": {"de": "Details", "en": "details"},
    "map.empty": {
        "de": "Keine Koordinaten im Profil: nichts auf der Karte",
        "en": "No coordinates in the profile: nothing on the map",
    },
    "map.unplaced": {"de": "ohne Koordinaten: {ids}", "en": "not placed: {ids}"},
    "map.hint": {
        "de": "Pfeiltasten/Tab wählen, Enter öffnet",
        "en": "arrows/tab select, enter opens",
    },
    "map.location": {"de": "Standort", "en": "location"},
    "map.ends": {"de": "Enden", "en": "ends"},
    # the Pulse's worst items
    "pulse.worst": {"de": "am schlimmsten", "en": "worst"},
    "pulse.more": {"de": "… und {n} weitere", "en": "… and {n} more"},
    "pulse.open": {"de": "öffnen", "en": "open"},
    "state.unreachable": {"de": "unerreichbar", "en": "unreachable"},
    # history metrics in a device's detail
    "metric.clients.2g": {"de": "Clients 2,4 GHz", "en": "clients 2.4 GHz"},
    "metric.clients.5g": {"de": "Clients 5 GHz", "en": "clients 5 GHz"},
    "metric.load1": {"de": "Systemlast", "en": "system load"},
    "metric.poll_s": {"de": "Abfragedauer s", "en": "poll time s"},
    "metric.rx_dbm": {"de": "Empfang {port}", "en": "rx {port}"},
    # the handover (links view and a link's detail, technicians)
    "link.handover": {"de": "übergeben", "en": "hand over"},
    "handover.pick": {
        "de": "{link} übergeben an (↑↓, Enter)",
        "en": "Hand {link} over to (↑↓, enter)",
    },
    "handover.current": {"de": "derzeit", "en": "current"},
    "handover.q": {"de": "{link} an {to} übergeben?", "en": "Hand {link} over to {to}?"},
    "handover.none": {
        "de": "{link} ist keiner Behörde zugeordnet",
        "en": "{link} is tagged for no authority",
    },
    "handover.refused": {"de": "Übergabe abgelehnt", "en": "Handover refused"},
    "handover.done": {
        "de": "{link} an {to} übergeben (Protokoll #{id})",
        "en": "{link} handed over to {to} (record #{id})",
    },
}


def placeholders(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


class Tr:
    """Looks up strings in one language."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            lang = "en"
        self.lang = lang
        self.keys = frozenset(STRINGS)

    def __call__(self, key: str, **fmt: Any) -> str:
        entry = STRINGS.get(key)
        if entry is None:
            return key
        text = entry[self.lang]
        return text.format(**fmt) if fmt else text
