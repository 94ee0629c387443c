"""Why the engine refused a request, as messages (``msg_id`` and ``params`` in the API's
error body next to the English ``message``): unknown devices and links, alerts,
handovers, provisioning. The wall's and the probe's refusals are with their messages
(:mod:`eventops.i18n.messages_wall`, :mod:`eventops.i18n.messages_probe`). Part of
:data:`eventops.i18n.MESSAGES`; field syntax: see :mod:`eventops.i18n`.
"""

from __future__ import annotations

ERROR_MESSAGES: dict[str, dict[str, str]] = {
    # -- things the profile does not have ------------------------------------------------------
    "err.no_device": {
        "de": "kein Gerät {device} im Profil",
        "en": "no device {device} in the profile",
    },
    "err.no_link": {"de": "keine Strecke {link} im Profil", "en": "no link {link} in the profile"},
    # -- alerts (eventops.engine.actions) ------------------------------------------------------
    "alert.err.not_open": {"de": "Alarm {id} ist nicht offen", "en": "alert {id} is not open"},
    "alert.err.no_matcher": {
        "de": "eine Stummschaltung braucht mindestens ein Kriterium",
        "en": "a silence needs at least one matcher",
    },
    "device.err.no_reboot": {
        "de": "{device}: sein Treiber ({driver}) bietet keinen Neustart an",
        "en": "{device}: its driver ({driver}) offers no reboot operation",
    },
    # -- handover (eventops.engine.handover) ---------------------------------------------------
    "handover.err.reason_long": {
        "de": "Begründung: höchstens {n} Zeichen",
        "en": "reason: at most {n} characters",
    },
    "handover.err.no_reason": {
        "de": "eine erzwungene Übergabe braucht eine Begründung",
        "en": "a forced handover needs a reason",
    },
    "handover.err.reason_unforced": {
        "de": "eine Begründung gehört nur zu einer erzwungenen Übergabe",
        "en": "a reason goes with force only",
    },
    "handover.err.no_authority": {
        "de": "keine Behörde {authority} im Profil",
        "en": "no authority {authority} in the profile",
    },
    "handover.err.not_tagged": {
        "de": "Strecke {link} ist nicht für {authority} vorgesehen (die Behörde im Profil bei "
        "der Strecke eintragen)",
        "en": "link {link} is not tagged for {authority} (add it to the link's authorities)",
    },
    "handover.err.no_reading": {
        "de": "kein aktueller Messwert von {device} ({why}): kein Referenzwert möglich",
        "en": "no fresh reading from {device} ({why}): cannot take a baseline",
    },
    # -- provisioning (eventops.engine.provisioning) -------------------------------------------
    "provision.err.nothing": {"de": "nichts zu ändern", "en": "nothing to change"},
    "provision.err.by": {"de": " (Nr. {id} von {actor})", "en": " (#{id} by {actor})"},
    "provision.err.running": {
        "de": "in dieser Engine läuft schon ein Anwenden{who}",
        "en": "an apply is already running in this engine{who}",
    },
    "provision.err.no_lock_dir": {
        "de": "diese Engine hat keinen Sperrordner: sie kann nichts anwenden",
        "en": "this engine has no lock folder: it cannot apply",
    },
    "provision.err.no_apply": {
        "de": "kein Anwenden Nr. {id} im Ereignisspeicher",
        "en": "no apply #{id} in the event store",
    },
    "provision.err.confirm_apply": {
        "de": "gefährliche Änderungen: {n}; zum Bestätigen die Veranstaltungs-ID {phrase} "
        "eintippen",
        "en": "{n} dangerous changes: type the event id {phrase} to confirm",
    },
    "provision.err.confirm_rollback": {
        "de": "ein Zurückrollen stellt den Stand von Anwenden Nr. {id} wieder her: zum "
        "Bestätigen die Veranstaltungs-ID {phrase} eintippen",
        "en": "a rollback re-applies apply #{id}'s state: type the event id {phrase} to confirm",
    },
    "provision.err.not_here": {
        "de": "diese Engine stellt keine Konfiguration bereit",
        "en": "this engine does not provision",
    },
    # -- the API's own refusals (eventops.server) ------------------------------------------------
    "err.unknown_device": {"de": "kein Gerät {device}", "en": "no device {device}"},
    "err.unknown_link": {"de": "keine Strecke {link}", "en": "no link {link}"},
    "err.no_handover": {"de": "keine Übergabe Nr. {id}", "en": "no handover #{id}"},
    "err.lang": {
        "de": "lang: {lang} ist weder de noch en",
        "en": "lang: {lang} is not one of de, en",
    },
    "err.device_metric": {
        "de": "Gerät und Messgröße müssen angegeben werden",
        "en": "device and metric are required",
    },
    "err.no_such": {"de": "{what:t} {id} gibt es nicht", "en": "no {what} {id}"},
    "term.alert": {"de": "Alarm", "en": "alert"},
    "term.decision": {"de": "Entscheidung", "en": "decision"},
    "term.silence": {"de": "Stummschaltung", "en": "silence"},
    "term.handover": {"de": "Übergabe", "en": "handover"},
    "err.not_a_time": {
        "de": "keine Zeit nach ISO 8601: {value}",
        "en": "not an ISO 8601 time: {value}",
    },
    "err.time_range": {
        "de": "Zeit außerhalb des Bereichs (1970-01-01 bis 9999-01-01): {value}",
        "en": "time out of range (1970-01-01 to 9999-01-01): {value}",
    },
    "err.not_json": {
        "de": "der Inhalt der Anfrage ist kein JSON",
        "en": "request body is not JSON",
    },
    "err.limit_nan": {"de": "Anzahl: keine Zahl", "en": "limit: not a number"},
    "err.cursor": {
        "de": "Cursor: keiner, den diese Liste ausgegeben hat (ohne Cursor neu beginnen)",
        "en": "cursor: not a cursor this list gave (start again without one)",
    },
    "err.acceptance_options": {
        "de": "Optionen der Abnahme: {why}",
        "en": "acceptance options: {why}",
    },
    # a field pydantic refused ({why} one of err.v.*)
    "err.field": {"de": "{field}: {why}", "en": "{field}: {why}"},
    "err.v.missing": {"de": "fehlt", "en": "Field required"},
    "err.v.extra": {"de": "ist hier nicht erlaubt", "en": "Extra inputs are not permitted"},
    "err.v.too_long": {
        "de": "ist zu lang (höchstens {max_length} Zeichen)",
        "en": "String should have at most {max_length} characters",
    },
    "err.v.too_short": {
        "de": "ist zu kurz (mindestens {min_length} Zeichen)",
        "en": "String should have at least {min_length} characters",
    },
    "err.v.too_many": {
        "de": "hat zu viele Einträge (höchstens {max_length})",
        "en": "List should have at most {max_length} items",
    },
    "err.v.gt": {"de": "muss größer als {gt} sein", "en": "Input should be greater than {gt}"},
    "err.v.ge": {
        "de": "muss mindestens {ge} sein",
        "en": "Input should be greater than or equal to {ge}",
    },
    "err.v.lt": {"de": "muss kleiner als {lt} sein", "en": "Input should be less than {lt}"},
    "err.v.le": {
        "de": "darf höchstens {le} sein",
        "en": "Input should be less than or equal to {le}",
    },
    "err.v.one_of": {"de": "muss eines von {expected} sein", "en": "Input should be {expected}"},
    "err.v.invalid": {"de": "ungültiger Wert", "en": "invalid value"},
}
