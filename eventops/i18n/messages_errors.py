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
}
