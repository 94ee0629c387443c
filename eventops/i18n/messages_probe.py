"""The probe's messages (eventops.probe, eventops.engine.probing): how each figure was
measured, the result summaries and acceptance progress the terminal app shows, and why a
run was refused or failed. Part of :data:`eventops.i18n.MESSAGES`; field syntax: see
:mod:`eventops.i18n`.
"""

from __future__ import annotations

from eventops.i18n.messages_iperf3 import IPERF3_MESSAGES

PROBE_MESSAGES: dict[str, dict[str, str]] = {
    # -- a run refused (eventops.engine.probing) -----------------------------------------------
    "probe.err.busy": {
        "de": "auf {target} läuft schon eine Messung",
        "en": "a probe run on {target} is already in progress",
    },
    "probe.err.no_reflector": {
        "de": "Strecke {link} hat im Profil keinen Mess-Reflektor",
        "en": "link {link} has no probe reflector in the profile",
    },
    "probe.err.no_sink": {
        "de": "Strecke {link} hat im Profil keine Messsenke",
        "en": "link {link} has no probe sink in the profile",
    },
    "probe.err.link_or_target": {
        "de": "genau eines angeben: Strecke oder Ziel",
        "en": "give exactly one of link and target",
    },
    "probe.err.rate": {
        "de": "rate: muss über 0 und höchstens 400G sein",
        "en": "rate: must be above 0 and at most 400G",
    },
    "probe.err.limit": {"de": "Anzahl: muss 1..10000 sein", "en": "limit: must be 1..10000"},
    # -- a measurement that could not run (eventops.probe) ---------------------------------------
    "probe.err.no_answer": {
        "de": "{peer}: keine Antwort binnen {s:g} s",
        "en": "{peer}: no answer within {s:g} s",
    },
    "probe.err.refused": {
        "de": "{peer}: Verbindung abgelehnt (dort lauscht keine Senke und kein Server)",
        "en": "{peer}: connection refused (no sink or server listening)",
    },
    "probe.sink_at": {"de": "Senke {peer}", "en": "sink {peer}"},
    "probe.ctl.no_answer": {
        "de": "{what}: keine Antwort binnen {s:g} s",
        "en": "{what}: no answer within {s:g} s",
    },
    "probe.ctl.lost": {
        "de": "{what}: Verbindung verloren ({why})",
        "en": "{what}: connection lost ({why})",
    },
    "probe.ctl.closed": {
        "de": "{what}: Verbindung von der Gegenseite geschlossen",
        "en": "{what}: connection closed by peer",
    },
    "probe.ctl.not_json": {
        "de": "{what}: keine JSON-Steuernachricht: {raw}",
        "en": "{what}: not a JSON control message: {raw}",
    },
    "probe.ctl.not_object": {
        "de": "{what}: die Steuernachricht ist kein Objekt",
        "en": "{what}: control message is not an object",
    },
    "probe.err.resolve": {
        "de": "{peer}: Name nicht auflösbar ({why})",
        "en": "{peer}: cannot resolve ({why})",
    },
    "probe.err.udp_refused": {
        "de": "{peer}: UDP-Port abgelehnt (ICMP: Port nicht erreichbar)",
        "en": "{peer}: UDP port refused (ICMP port unreachable)",
    },
    "probe.err.os": {"de": "{peer}: {why}", "en": "{peer}: {why}"},
    "probe.os.refused": {"de": "Verbindung abgelehnt", "en": "Connection refused"},
    "probe.os.host_unreachable": {"de": "Gegenstelle nicht erreichbar", "en": "No route to host"},
    "probe.os.net_unreachable": {"de": "Netz nicht erreichbar", "en": "Network is unreachable"},
    "probe.os.timed_out": {"de": "Zeitüberschreitung der Verbindung", "en": "Connection timed out"},
    "probe.os.no_address": {
        "de": "Adresse hier nicht verfügbar",
        "en": "Cannot assign requested address",
    },
    "probe.os.denied": {"de": "nicht erlaubt", "en": "Permission denied"},
    "probe.err.stamp_silent": {
        "de": "STAMP-Reflektor {peer}: {why} auf {sent} Pakete{extra}",
        "en": "STAMP reflector {peer}: {why} to {sent} packets{extra}",
    },
    "probe.err.port_refused": {
        "de": "Port abgelehnt (ICMP: Port nicht erreichbar)",
        "en": "port refused (ICMP port unreachable)",
    },
    "probe.err.no_reply": {
        "de": "keine gültige Antwort binnen {s:g} s",
        "en": "no valid reply within {s:g} s",
    },
    "probe.err.unusable": {
        "de": "; {n} unbrauchbare Antworten ({what})",
        "en": "; {n} unusable replies ({what})",
    },
    # the kinds of unusable STAMP replies ({what} of probe.err.unusable; en: the field's name)
    "probe.anomaly.truncated": {"de": "zu kurz {n}", "en": "truncated {n}"},
    "probe.anomaly.unknown_seq": {
        "de": "unbekannte Sequenznummer {n}",
        "en": "unknown_seq {n}",
    },
    "probe.anomaly.duplicate": {"de": "doppelt {n}", "en": "duplicate {n}"},
    "probe.anomaly.zero_timestamp": {"de": "ohne Zeitstempel {n}", "en": "zero_timestamp {n}"},
    "probe.anomaly.bad_error_estimate": {
        "de": "ungültige Fehlerschätzung {n}",
        "en": "bad_error_estimate {n}",
    },
    "probe.anomaly.wrong_ssid": {"de": "falsche SSID {n}", "en": "wrong_ssid {n}"},
    "probe.anomaly.short_twamp_light": {
        "de": "kurzes TWAMP-Light {n}",
        "en": "short_twamp_light {n}",
    },
    "probe.anomaly.negative_rtt": {"de": "negative Umlaufzeit {n}", "en": "negative_rtt {n}"},
    "probe.err.above_cap": {
        "de": "{link}: {mbps:.2f} Mbit/s über den vertraglichen {cap:.2f} Mbit/s verweigert",
        "en": "{link}: refusing {mbps:.2f} Mbit/s above the contracted {cap:.2f} Mbit/s",
    },
    "probe.err.handed_over": {
        "de": "{link} ist an {authority} übergeben: Die vertraglichen {cap:g} Mbit/s werden "
        "nicht überschritten ({why}); dafür --force angeben und die Strecken-ID eintippen",
        "en": "{link} is handed over to {authority}: refusing to exceed its contracted "
        "{cap:g} Mbit/s ({why}); use --force and type the link id",
    },
    "probe.err.no_force": {"de": "ohne --force", "en": "no --force"},
    "probe.err.confirm_mismatch": {
        "de": "die Bestätigung stimmt nicht mit der Strecken-ID überein",
        "en": "confirmation did not match the link id",
    },
    "probe.err.stamp_needs_reflector": {
        "de": "Verzögerung per STAMP braucht einen Reflektor im Profil der Strecke",
        "en": "delay from STAMP needs a reflector (probe.reflector in the profile)",
    },
    "probe.err.no_sink_key": {
        "de": "Strecke {link} hat im Profil keine Messsenke",
        "en": "link {link} has no probe sink in the profile (probe.sink)",
    },
    # -- a parameter out of range (eventops.probe.checks and each run's own checks) --------------
    "probe.range.port": {
        "de": "{what:t} {port} außerhalb des Bereichs ({lo}..65535)",
        "en": "{what} {port} out of range ({lo}..65535)",
    },
    "term.port": {"de": "Port", "en": "port"},
    "probe.range.seconds": {
        "de": "{what:t} {value:g} s außerhalb des Bereichs ({lo:g} < {what:t} <= {hi:g})",
        "en": "{what} {value:g} s out of range ({lo:g} < {what} <= {hi:g})",
    },
    "term.duration": {"de": "Dauer", "en": "duration"},
    "probe.range.interval": {
        "de": "Berichtsintervall {value:g} s außerhalb des Bereichs (0,01..3600)",
        "en": "interval {value:g} s out of range (0.01..3600)",
    },
    "probe.range.count": {
        "de": "Paketanzahl {count} außerhalb des Bereichs (1..10000000)",
        "en": "count {count} out of range (1..10000000)",
    },
    "probe.range.spacing": {
        "de": "Sendeabstand {value:g} s außerhalb des Bereichs (0..3600)",
        "en": "interval {value:g} s out of range (0..3600)",
    },
    "probe.range.stamp_size": {
        "de": "STAMP-Paketgröße {size} außerhalb des Bereichs ({lo}..9000)",
        "en": "STAMP packet size {size} out of range ({lo}..9000)",
    },
    "probe.range.ssid": {
        "de": "SSID {ssid} außerhalb des Bereichs (1..65535)",
        "en": "SSID {ssid} out of range (1..65535)",
    },
    "probe.range.wait": {
        "de": "Wartezeit {value:g} s außerhalb des Bereichs (0 < Wartezeit <= 60)",
        "en": "wait {value:g} s out of range (0 < wait <= 60)",
    },
    "probe.range.progress": {
        "de": "Fortschrittsintervall {value:g} s außerhalb des Bereichs (0..3600)",
        "en": "progress interval {value:g} s out of range (0..3600)",
    },
    "probe.range.datagram": {
        "de": "Datagrammgröße {size} außerhalb des Bereichs ({lo}..65507 Byte)",
        "en": "datagram size {size} out of range ({lo}..65507 bytes)",
    },
    "probe.range.rate": {
        "de": "Rate {rate:g} bit/s außerhalb des Bereichs (0 < Rate <= {hi:g})",
        "en": "rate {rate:g} bit/s out of range (0 < rate <= {hi:g})",
    },
    "probe.range.duration": {
        "de": "Dauer {value:g} s außerhalb des Bereichs (0 < Dauer <= {hi:g})",
        "en": "duration {value:g} s out of range (0 < duration <= {hi:g})",
    },
    "probe.range.needs_rate": {
        "de": "ein ungebündelter Datenstrom (Verzögerungsmessung) braucht eine Rate",
        "en": "an unbatched (delay) stream needs a rate",
    },
    "probe.range.below_one": {
        "de": "Rate {rate:g} bit/s ergibt nicht einmal ein {wire}-Byte-Datagramm je Messung",
        "en": "rate {rate:g} bit/s is below one {wire}-byte datagram per run",
    },
    "probe.range.streams": {
        "de": "Datenströme {streams} außerhalb des Bereichs (1..{hi})",
        "en": "streams {streams} out of range (1..{hi})",
    },
    "probe.range.whole_seconds": {
        "de": "Dauer {value:g} s außerhalb des Bereichs (ganze Sekunden, 1..86400)",
        "en": "duration {value:g} s out of range (whole seconds, 1..86400)",
    },
    "probe.range.iperf3_rate": {
        "de": "Rate {rate:g} bit/s außerhalb des Bereichs (0..400e9)",
        "en": "rate {rate:g} bit/s out of range (0..400e9)",
    },
    "probe.range.udp_block": {
        "de": "UDP-Datagrammgröße {size} außerhalb des Bereichs ({lo}..{hi})",
        "en": "UDP datagram size {size} out of range ({lo}..{hi})",
    },
    "probe.range.tcp_block": {
        "de": "TCP-Schreibblockgröße {size} außerhalb des Bereichs ({lo}..{hi})",
        "en": "TCP write size {size} out of range ({lo}..{hi})",
    },
    "probe.range.reverse_bidir": {
        "de": "nur eines von beiden wählen: Gegenrichtung (reverse) oder beide Richtungen (bidir)",
        "en": "choose one of reverse and bidir",
    },
    "probe.range.idle": {
        "de": "Leerlauf-Zeitlimit {value:g} s außerhalb des Bereichs (0 < t <= 86400)",
        "en": "idle timeout {value:g} s out of range (0 < t <= 86400)",
    },
    "probe.range.sessions": {
        "de": "Sitzungshöchstzahl {n} außerhalb des Bereichs (1..1048576)",
        "en": "max sessions {n} out of range (1..1048576)",
    },
    # -- files and listening sockets (the kernel's reason as probe.os.*, else as it said) -----
    "probe.err.pcap": {
        "de": "pcap-Mitschnitt {path} nicht schreibbar: {why}",
        "en": "cannot write pcap {path}: {why}",
    },
    "probe.err.listen": {
        "de": "{what:t} kann nicht auf {addr} lauschen: {why}",
        "en": "{what} cannot listen on {addr}: {why}",
    },
    "term.sink": {"de": "Messsenke", "en": "sink"},
    "term.reflector": {"de": "STAMP-Reflektor", "en": "reflector"},
    "probe.os.no_file": {
        "de": "Datei oder Ordner nicht vorhanden",
        "en": "No such file or directory",
    },
    "probe.os.is_dir": {"de": "ist ein Ordner", "en": "Is a directory"},
    "probe.os.no_space": {
        "de": "kein Platz mehr auf dem Datenträger",
        "en": "No space left on device",
    },
    "probe.os.read_only": {"de": "Dateisystem nur lesbar", "en": "Read-only file system"},
    "probe.os.in_use": {"de": "Adresse schon belegt", "en": "Address already in use"},
    "probe.err.engine": {
        "de": "die kompilierte Mess-Engine eventops.probe._fastprobe fehlt oder lädt nicht: {why}",
        "en": "compiled probe engine eventops.probe._fastprobe not importable: {why}",
    },
    # -- the sink refused or failed a test (its own words, as messages: eventops.probe.sink) ---
    "probe.err.sink_said": {"de": "Senke {peer}: {why}", "en": "sink {peer}: {why}"},
    "probe.err.sink_refused": {"de": "Messung abgelehnt", "en": "refused the test"},
    "probe.err.sink_failed": {"de": "Messung fehlgeschlagen", "en": "test failed"},
    "sink.err.busy": {
        "de": "belegt, dort läuft schon eine andere Messung",
        "en": "sink busy: another test is running",
    },
    "sink.err.unknown_op": {"de": "unbekannte Operation {op}", "en": "unknown op {op}"},
    "sink.err.missing": {
        "de": "Steuernachricht ohne {key}",
        "en": "control message without {key}",
    },
    "sink.err.int_range": {
        "de": "Steuerfeld {key} = {value} außerhalb des Bereichs ({lo}..{hi})",
        "en": "control field {key} = {value} out of range ({lo}..{hi})",
    },
    "sink.err.seconds_range": {
        "de": "Steuerfeld {key} = {value} außerhalb des Bereichs (0 < {name} <= {hi:g})",
        "en": "control field {key} = {value} out of range (0 < {name} <= {hi:g})",
    },
    "sink.err.window": {
        "de": "Steuerfeld 'window' = {w} ist keine Zweierpotenz",
        "en": "control field 'window' = {w} is not a power of two",
    },
    "sink.err.not_bool": {
        "de": "Steuerfeld {key} = {value} ist kein Wahrheitswert",
        "en": "control field {key} = {value} is not a boolean",
    },
    "sink.err.no_test": {
        "de": "Datenstrom, aber keine laufende Messung",
        "en": "data stream for no running test",
    },
    "sink.err.streams": {
        "de": "mehr als die {n} angekündigten Datenströme",
        "en": "more than the {n} announced data streams",
    },
    "sink.err.unexpected": {
        "de": "Steuerung der Senke: unerwartete Nachricht",
        "en": "sink control: unexpected message",
    },
    # -- acceptance progress and summary (eventops.probe.acceptance, the :probe view) ----------
    "probe.fail.limit": {
        "de": "{name:t} {value:.3f} {unit} > {limit:.3f} {unit}",
        "en": "{name} {value:.3f} {unit} > {limit:.3f} {unit}",
    },
    "probe.fail.rate": {
        "de": "Rate {value:.3f} % des Ziels < {limit:.3f} %",
        "en": "rate {value:.3f} % of target < {limit:.3f} %",
    },
    "probe.joined": {"de": "{a}; {b}", "en": "{a}; {b}"},
    "probe.acc.step": {
        "de": "Stufe {step}: {mbps:.2f} Mbit/s für {s:g} s",
        "en": "step {step}: {mbps:.2f} Mbit/s for {s:g} s",
    },
    "probe.acc.step_pass": {"de": "Stufe {step}: bestanden", "en": "step {step}: pass"},
    "probe.acc.step_fail": {
        "de": "Stufe {step}: NICHT BESTANDEN – {why}",
        "en": "step {step}: FAIL {why}",
    },
    "probe.acc.hold": {
        "de": "Dauertest: {mbps:.2f} Mbit/s für {s:g} s",
        "en": "hold: {mbps:.2f} Mbit/s for {s:g} s",
    },
    "probe.acc.trial": {
        "de": "Suche {mbps:.2f} Mbit/s: Verlust {loss:.3f} % {verdict}",
        "en": "search {mbps:.2f} Mbit/s: loss {loss:.3f} % {verdict}",
    },
    "probe.acc.trial_pass": {"de": "bestanden", "en": "pass"},
    "probe.acc.trial_fail": {"de": "nicht bestanden", "en": "fail"},
    "probe.acc.sender_short": {
        "de": "der Sender erreichte nur {pct:.1f} % der Rate",
        "en": "sender reached only {pct:.1f} % of the rate",
    },
    "probe.acc.figures": {
        "de": "gesendet {sent:.2f}, empfangen {rx:.2f} Mbit/s, Verlust {loss:.3f} %, "
        "Verzögerung {delay:.3f} ms, Jitter {jitter:.3f} ms",
        "en": "sent {sent:.2f} rx {rx:.2f} Mbit/s, loss {loss:.3f} %, delay {delay:.3f} ms, "
        "jitter {jitter:.3f} ms",
    },
    "probe.acc.pass": {"de": "BESTANDEN", "en": "PASS"},
    "probe.acc.fail": {"de": "NICHT BESTANDEN: {why}", "en": "FAIL: {why}"},
    "probe.acc.line": {
        "de": "{step:t} {target:.2f} Mbit/s  {figures}  {verdict}",
        "en": "{step} {target:.2f} Mbit/s  {figures}  {verdict}",
    },
    "probe.acc.search": {
        "de": "Suche: höchste Rate mit Verlust <= {loss:g} %: {found}",
        "en": "search: highest rate with loss <= {loss:g} %: {found}",
    },
    "probe.acc.found": {
        "de": "{mbps:.2f} Mbit/s ({pct:.1f} %)",
        "en": "{mbps:.2f} Mbit/s ({pct:.1f} %)",
    },
    "probe.acc.none_found": {"de": "keine", "en": "none"},
    "probe.acc.passed": {"de": "{link}: BESTANDEN", "en": "{link}: PASSED"},
    "probe.acc.failed": {
        "de": "{link}: NICHT BESTANDEN bei {at:t}",
        "en": "{link}: FAILED at {at}",
    },
    "term.hold": {"de": "Dauertest", "en": "hold"},
    # -- STAMP and throughput results in the :probe view -----------------------------------------
    "probe.sum.stamp": {
        "de": "STAMP {target}: {replies}/{sent} Antworten, Verlust {loss:.2f} %",
        "en": "STAMP {target}: {replies}/{sent} replies, loss {loss:.2f} %",
    },
    "probe.sum.rtt": {
        "de": "Umlaufzeit ms: min {min:.3f} Mittel {mean:.3f} p99 {p99:.3f} max {max:.3f}; "
        "Jitter {jitter:.3f}",
        "en": "RTT ms: min {min:.3f} mean {mean:.3f} p99 {p99:.3f} max {max:.3f}; "
        "jitter {jitter:.3f}",
    },
    "probe.sum.rate": {
        "de": "{target}: gesendet {sent:.2f} Mbit/s, zugestellt {rx:.2f} Mbit/s ({layer})",
        "en": "{target}: sent {sent:.2f} Mbit/s, delivered {rx:.2f} Mbit/s ({layer})",
    },
    "probe.sum.counts": {
        "de": "verloren {lost} ({pct:.3f} %), umsortiert {reordered}, doppelt {duplicated}",
        "en": "lost {lost} ({pct:.3f} %), reordered {reordered}, duplicated {duplicated}",
    },
    "probe.sum.other": {
        "de": "{kind:t} {target}: bestanden={passed}",
        "en": "{kind} {target}: passed={passed}",
    },
    "probe.unit.rtt": {"de": "ms Umlaufzeit", "en": "ms RTT"},
    "probe.sum.methods": {"de": "So wurde gemessen:", "en": "How it was measured:"},
    "probe.sum.method": {"de": "  {what:t}: {how}", "en": "  {what}: {how}"},
    # the figures a method is named for ({what:t})
    "term.reordering": {"de": "Umsortierung", "en": "reordering"},
    "term.duplicates": {"de": "Duplikate", "en": "duplicates"},
    "term.late": {"de": "Nachzügler", "en": "late"},
    "term.sink_drops": {"de": "Verwerfungen an der Senke", "en": "sink drops"},
    "term.pacing": {"de": "Sendetakt", "en": "pacing"},
    "term.ipdv": {"de": "IPDV", "en": "IPDV"},
    "term.rtt": {"de": "Umlaufzeit", "en": "round trip"},
    "term.forward_jitter": {"de": "Jitter Hinweg", "en": "forward jitter"},
    "term.backward_jitter": {"de": "Jitter Rückweg", "en": "backward jitter"},
    "term.forward_loss": {"de": "Verlust Hinweg", "en": "forward loss"},
    "term.backward_loss": {"de": "Verlust Rückweg", "en": "backward loss"},
    "term.sent": {"de": "gesendet", "en": "sent"},
    "term.received": {"de": "empfangen", "en": "received"},
    # -- how each figure was measured (a result's ``method_msgs``) -----------------------------
    "method.as_said": {"de": "{text}", "en": "{text}"},
    "method.stream_batched": {"de": "gebündelten UDP-GSO/GRO", "en": "batched UDP GSO/GRO"},
    "method.stream_unbatched": {"de": "ungebündelten UDP", "en": "unbatched UDP"},
    "method.udp_throughput": {
        "de": "Empfängerzähler des {stream}-Datenstroms über die Sendedauer; Schicht {layer}",
        "en": "receiver counters of {stream} stream over sender time; layer {layer}",
    },
    "method.udp_loss": {
        "de": "gesendet (Zähler des Senders) − eindeutig empfangen (Zähler der Senke)",
        "en": "sent (sender count) − distinct received (sink count)",
    },
    "method.reordering": {
        "de": "RFC 4737 (Ankunft unter NextExp), Zählung jedes Datagramms an der Senke",
        "en": "RFC 4737 (arrival below NextExp), sink per-datagram accounting",
    },
    "method.duplicates": {
        "de": "Sequenzfenster von {window}",
        "en": "sequence window of {window}",
    },
    "method.late": {
        "de": "Ankünfte mehr als {window} Sequenznummern hinter der neuesten "
        "(nie als empfangen gezählt)",
        "en": "arrivals more than {window} sequence numbers behind the newest "
        "(never counted as received)",
    },
    "method.sink_drops": {
        "de": "Verwerfungen im Empfangspuffer des Senken-Sockets während des Tests "
        "(Verwerfungszähler des Kernels, /proc/net/udp); Netzverlust = Verlust − "
        "Senken-Verwerfungen",
        "en": "the sink socket's own receive-buffer drops over the test "
        "(kernel drop counter, /proc/net/udp); network loss = loss − sink drops",
    },
    "method.pacing": {
        "de": "Sender: je 1 ms an den Kernel übergebene Datagramme, Abweichung je 100-ms-Fenster",
        "en": "sender: datagrams handed to the kernel per 1 ms, error per 100 ms window",
    },
    "method.sink_delay": {
        "de": "ungebündelter Datenstrom: Empfangszeit im Kernel (SO_TIMESTAMPNS, CLOCK_REALTIME) "
        "minus Sendezeitstempel (CLOCK_REALTIME); Einweg, braucht synchronisierte Uhren",
        "en": "unbatched stream: kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME) "
        "minus sender CLOCK_REALTIME stamp; one-way, needs synchronised clocks",
    },
    "method.udp_jitter": {
        "de": "Jitter nach RFC 3550 (Ankunftsabstände) der Einweg-Verzögerungen",
        "en": "RFC 3550 interarrival jitter of one-way delays",
    },
    "method.ipdv": {
        "de": "IPDV nach RFC 3393/5481 aufeinanderfolgender Sequenznummern",
        "en": "RFC 3393/5481 consecutive-sequence IPDV",
    },
    "method.tcp_throughput": {
        "de": "Bytezähler der Senke über die Testdauer des Senders (TCP-Nutzdaten)",
        "en": "sink's byte count over the sender's test time (TCP payload)",
    },
    "method.stamp_rtt": {
        "de": "STAMP-Umlaufzeit (T4−T1)−(T3−T2); T4 Empfangszeit im Kernel (SO_TIMESTAMPNS), "
        "T2/T3 die Zeitstempel des Reflektors",
        "en": "STAMP round trip (T4−T1)−(T3−T2); T4 kernel receive time (SO_TIMESTAMPNS), "
        "T2/T3 the reflector's own",
    },
    "method.stamp_jitter": {
        "de": "Jitter nach RFC 3550 (Ankunftsabstände) der Umlaufzeiten",
        "en": "RFC 3550 interarrival jitter of the round-trip times",
    },
    "method.stamp_forward_jitter": {
        "de": "Jitter nach RFC 3550 von T2−T1 in Sequenzreihenfolge (der Uhrenversatz hebt "
        "sich auf)",
        "en": "RFC 3550 jitter of T2−T1 in sequence order (clock offset cancels)",
    },
    "method.stamp_backward_jitter": {
        "de": "Jitter nach RFC 3550 von T4−T3 in Sequenzreihenfolge",
        "en": "RFC 3550 jitter of T4−T3 in sequence order",
    },
    "method.stamp_loss": {
        "de": "Hin- und Rückweg: gesendet − eindeutige gültige Antworten",
        "en": "round trip: sent − distinct valid replies",
    },
    "method.stamp_forward_loss": {
        "de": "gesendet − vom zustandsbehafteten Reflektor gezählte Pakete "
        "(seine letzte Sequenznummer + 1)",
        "en": "sent − packets counted by the stateful reflector (its last sequence number + 1)",
    },
    "method.stamp_backward_loss": {
        "de": "Zähler des Reflektors − empfangene Antworten",
        "en": "reflector count − replies received",
    },
    "method.iperf3_sent": {
        "de": "Zähler der sendenden Seite (iperf3-Nutzdatenschicht: UDP- oder TCP-Nutzdaten)",
        "en": "the sending side's counters (iperf3 payload layer: UDP or TCP payload)",
    },
    "method.iperf3_received": {
        "de": "Zähler der empfangenden Seite, ausgetauscht in EXCHANGE_RESULTS",
        "en": "the receiving side's counters, exchanged in EXCHANGE_RESULTS",
    },
    "method.iperf3_jitter": {
        "de": "Jitter nach RFC 3550 der Zeitstempel in den Datagramm-Headern (Empfänger von iperf3)",
        "en": "RFC 3550 jitter of the datagram header timestamps (iperf3's receiver)",
    },
    "method.acc_stamp_delay": {
        "de": "halbe mittlere STAMP-Umlaufzeit, unter Last gemessen: {rtt}",
        "en": "half the mean STAMP round trip, measured under load: {rtt}",
    },
    "method.acc_stamp_jitter": {"de": "STAMP-Jitter der Hinrichtung", "en": "STAMP forward jitter"},
    "method.acc_stream_delay": {
        "de": "mittlere Einweg-Verzögerung des ungebündelten Datenstroms: {how}",
        "en": "mean one-way delay of the unbatched stream: {how}",
    },
    "method.acc_stream_jitter": {
        "de": "Jitter nach RFC 3550 (Ankunftsabstände) der Einweg-Verzögerungen des "
        "ungebündelten Datenstroms",
        "en": "RFC 3550 interarrival jitter of the unbatched stream's one-way delays",
    },
}
if set(IPERF3_MESSAGES) & set(PROBE_MESSAGES):
    raise ImportError("a message id is defined twice in eventops.i18n's probe catalogue")
PROBE_MESSAGES.update(IPERF3_MESSAGES)
