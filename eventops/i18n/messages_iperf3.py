"""The iperf3 client's messages (eventops.probe.iperf3, iperf3_proto, iperf3_wire): why a
test against an iperf3 server could not run or broke the control protocol, in the
reader's language. Part of :data:`eventops.i18n.messages_probe.PROBE_MESSAGES` (and so
of :data:`eventops.i18n.MESSAGES`); field syntax: see :mod:`eventops.i18n`.
"""

from __future__ import annotations

IPERF3_MESSAGES: dict[str, dict[str, str]] = {
    # -- the iperf3 client (eventops.probe.iperf3, iperf3_proto, iperf3_wire) ------------------
    "iperf3.server_at": {"de": "iperf3-Server {peer}", "en": "iperf3 server {peer}"},
    "iperf3.client_at": {"de": "iperf3-Client {peer}", "en": "iperf3 client {peer}"},
    "iperf3.err.at": {"de": "{where}: {why}", "en": "{where}: {why}"},
    "iperf3.err.refused": {
        "de": "{where}: Verbindung abgelehnt (dort lauscht kein iperf3 -s)",
        "en": "{where}: connection refused (no iperf3 -s listening)",
    },
    "iperf3.err.lost": {
        "de": "{where}: Steuerverbindung verloren ({why})",
        "en": "{where}: control connection lost ({why})",
    },
    "iperf3.err.no_answer": {
        "de": "{where}: keine Antwort binnen {s:g} s ({phase})",
        "en": "{where}: no answer within {s:g} s ({phase})",
    },
    "iperf3.err.closed": {
        "de": "{where}: hat die Steuerverbindung geschlossen",
        "en": "{where}: closed the control connection",
    },
    "iperf3.err.already_closed": {
        "de": "{where}: Verbindung schon geschlossen",
        "en": "{where}: connection already closed",
    },
    "iperf3.err.unexpected": {
        "de": "{where}: unerwartetes {event}",
        "en": "{where}: unexpected {event}",
    },
    "iperf3.err.unexpected_during": {
        "de": "{where}: unerwartetes {event} während der Messung",
        "en": "{where}: unexpected {event} during the test",
    },
    "iperf3.err.unexpected_after": {
        "de": "{where}: unerwartetes {event} nach TEST_END",
        "en": "{where}: unexpected {event} after TEST_END",
    },
    "iperf3.err.udp_no_answer": {
        "de": "{where}: keine Antwort auf den Aufbau des UDP-Datenstroms binnen {s:g} s",
        "en": "{where}: no answer to the UDP stream set-up within {s:g} s",
    },
    "iperf3.err.udp_refused": {
        "de": "{where}: UDP-Port abgelehnt",
        "en": "{where}: UDP port refused",
    },
    "iperf3.err.udp_reply": {
        "de": "{where}: unerwartete Antwort auf den UDP-Aufbau {reply}",
        "en": "{where}: unexpected UDP set-up reply {reply}",
    },
    "iperf3.err.tcp_no_answer": {
        "de": "{where}: TCP-Datenstrom: keine Antwort binnen {s:g} s",
        "en": "{where}: TCP stream: no answer within {s:g} s",
    },
    "iperf3.err.tcp_open": {
        "de": "TCP-Datenstrom lässt sich nicht öffnen: {why}",
        "en": "cannot open TCP stream: {why}",
    },
    "iperf3.err.stream_failed": {
        "de": "{where}: Datenstrom {id} abgebrochen: {why}",
        "en": "{where}: data stream {id} failed: {why}",
    },
    # what the peer sent that broke the protocol ({why} of iperf3.err.at)
    "iperf3.err.json_size": {
        "de": "{what} mit {n} Byte (erlaubt 1..{max})",
        "en": "{what} of {n} bytes (1..{max})",
    },
    "iperf3.err.not_json": {"de": "{what} ist kein JSON", "en": "{what} is not JSON"},
    "iperf3.err.not_object": {
        "de": "{what} ist kein JSON-Objekt",
        "en": "{what} is not a JSON object",
    },
    "iperf3.what.server_results": {
        "de": "die Ergebnisse des Servers",
        "en": "the server's results",
    },
    "iperf3.what.client_results": {
        "de": "die Ergebnisse des Clients",
        "en": "the client's results",
    },
    "iperf3.what.params": {"de": "die Parameter-Nachricht", "en": "parameters message"},
    "iperf3.what.results": {"de": "Ergebnisse", "en": "results"},
    "iperf3.what.stream": {"de": "Ergebnis des Datenstroms {i}", "en": "results stream {i}"},
    "iperf3.err.eof": {
        "de": "hat die Steuerverbindung geschlossen{partial} ({phase})",
        "en": "closed the control connection{partial} ({phase})",
    },
    "iperf3.err.mid_message": {
        "de": " mitten in einer Nachricht",
        "en": " in the middle of a message",
    },
    "iperf3.err.server_s": {"de": "Server: {why}", "en": "server's {why}"},
    "iperf3.err.client_s": {"de": "Client: {why}", "en": "client's {why}"},
    "iperf3.err.extra_bytes": {
        "de": "hat {n} unerwartete Byte gesendet ({phase})",
        "en": "sent {n} unexpected bytes ({phase})",
    },
    "iperf3.err.state": {
        "de": "hat {state} gesendet, Zustand: {phase}",
        "en": "sent {state} while {phase}",
    },
    "iperf3.err.busy": {
        "de": "belegt (ACCESS_DENIED): dort läuft schon eine andere Messung",
        "en": "busy (ACCESS_DENIED): another test is running",
    },
    "iperf3.err.terminated": {
        "de": "der Server hat die Messung abgebrochen",
        "en": "server terminated the test",
    },
    "iperf3.err.client_terminated": {
        "de": "der Client hat die Messung abgebrochen",
        "en": "client terminated the test",
    },
    "iperf3.err.server_error": {
        "de": "Fehler am Server (i_errno {i_errno}){detail}",
        "en": "server error (i_errno {i_errno}){detail}",
    },
    "iperf3.err.detail": {"de": "; {why}", "en": "; {why}"},
    "iperf3.err.mid_error": {
        "de": "hat die Verbindung mitten in einer SERVER_ERROR-Nachricht geschlossen",
        "en": "closed the connection in the middle of a SERVER_ERROR message",
    },
    "iperf3.err.bad_cookie": {
        "de": "hat ein fehlerhaftes Cookie gesendet",
        "en": "sent a malformed cookie",
    },
    "iperf3.err.not_number": {
        "de": "{where}: {key} ist keine Zahl",
        "en": "{where}: {key} is not a number",
    },
    "iperf3.err.no_streams": {
        "de": "Ergebnisse ohne Liste der Datenströme",
        "en": "results without a streams list",
    },
    "iperf3.err.too_many": {
        "de": "Ergebnisse nennen {n} Datenströme (höchstens {max})",
        "en": "results list {n} streams (at most {max})",
    },
    "iperf3.err.stream_not_object": {
        "de": "{where} ist kein Objekt",
        "en": "{where} is not an object",
    },
    "iperf3.err.id_bytes": {
        "de": "{where}: 'id' oder 'bytes' fehlt oder ist negativ",
        "en": "{where}: 'id' or 'bytes' missing or negative",
    },
    # the control protocol's phase a failure happened in (iperf3_proto.Phase)
    "iperf3.phase.COOKIE": {"de": "Cookie", "en": "cookie"},
    "iperf3.phase.PARAM_EXCHANGE": {
        "de": "wartet auf PARAM_EXCHANGE",
        "en": "waiting for PARAM_EXCHANGE",
    },
    "iperf3.phase.PARAMS": {"de": "wartet auf die Parameter", "en": "waiting for the parameters"},
    "iperf3.phase.CREATE_STREAMS": {
        "de": "wartet auf CREATE_STREAMS",
        "en": "waiting for CREATE_STREAMS",
    },
    "iperf3.phase.STREAMS": {"de": "baut Datenströme auf", "en": "creating streams"},
    "iperf3.phase.TEST_START": {"de": "wartet auf TEST_START", "en": "waiting for TEST_START"},
    "iperf3.phase.TEST_RUNNING": {
        "de": "wartet auf TEST_RUNNING",
        "en": "waiting for TEST_RUNNING",
    },
    "iperf3.phase.RUNNING": {"de": "Messung läuft", "en": "running"},
    "iperf3.phase.EXCHANGE_RESULTS": {
        "de": "wartet auf EXCHANGE_RESULTS",
        "en": "waiting for EXCHANGE_RESULTS",
    },
    "iperf3.phase.OWN_RESULTS": {
        "de": "wartet auf die eigenen Ergebnisse",
        "en": "waiting for our results",
    },
    "iperf3.phase.PEER_RESULTS": {
        "de": "wartet auf die Ergebnisse der Gegenseite",
        "en": "waiting for the peer's results",
    },
    "iperf3.phase.DISPLAY_RESULTS": {
        "de": "wartet auf DISPLAY_RESULTS",
        "en": "waiting for DISPLAY_RESULTS",
    },
    "iperf3.phase.IPERF_DONE": {"de": "wartet auf IPERF_DONE", "en": "waiting for IPERF_DONE"},
    "iperf3.phase.DONE": {"de": "fertig", "en": "done"},
    "iperf3.phase.CLOSED": {"de": "geschlossen", "en": "closed"},
}
