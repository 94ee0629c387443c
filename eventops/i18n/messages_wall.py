"""The social wall's messages (eventops.wall): why a rule approved, held or rejected a
post, the reasons the wall's code writes into a post's history, and why a moderation,
block or announcement was refused. Part of :data:`eventops.i18n.MESSAGES`; field syntax:
see :mod:`eventops.i18n`.
"""

from __future__ import annotations

WALL_MESSAGES: dict[str, dict[str, str]] = {
    # -- the wall's moderation rules: why a post was approved, held or rejected (eventops.wall) --
    "wall.rule.blocklisted": {
        "de": "Autor {author} steht auf der Sperrliste",
        "en": "author {author} is on the blocklist",
    },
    "wall.rule.blocked": {
        "de": "Autor {author} ist gesperrt, bis die Sperre aufgehoben wird",
        "en": "author {author} is blocked until lifted",
    },
    "wall.rule.blocked_until": {
        "de": "Autor {author} ist gesperrt bis {until}",
        "en": "author {author} is blocked until {until}",
    },
    "wall.rule.word": {"de": "gesperrtes Wort {word}", "en": "blocked word {word}"},
    "wall.rule.domain_blocked": {
        "de": "Link auf die gesperrte Domain {domain}",
        "en": "link to blocked domain {domain}",
    },
    "wall.rule.domain_not_allowed": {
        "de": "Link auf {domain}, keine der erlaubten Domains",
        "en": "link to {domain}, not an allowed domain",
    },
    "wall.rule.allowlisted": {
        "de": "Autor {author} steht auf der Freigabeliste",
        "en": "author {author} is on the allowlist",
    },
    "wall.rule.boost": {
        "de": "geteilte Beiträge werden nicht gezeigt",
        "en": "boosts/reposts are not shown",
    },
    "wall.rule.reply": {"de": "Antworten werden nicht gezeigt", "en": "replies are not shown"},
    "wall.rule.bot": {"de": "der Autor ist ein Bot-Konto", "en": "the author is a bot account"},
    "wall.rule.language": {
        "de": "Sprache {lang} ({how:t}) wird nicht gezeigt",
        "en": "language {lang} ({how}) is not shown",
    },
    "term.tagged": {"de": "von der Quelle angegeben", "en": "tagged"},
    "term.detected": {"de": "erkannt", "en": "detected"},
    "wall.rule.content_warning": {
        "de": "Inhaltswarnung {warning}",
        "en": "content warning {warning}",
    },
    "wall.rule.sensitive": {"de": "als sensibel markiert", "en": "marked sensitive"},
    "wall.rule.person_decides": {
        "de": "{what}: Ein Mensch entscheidet",
        "en": "{what}: a person decides",
    },
    "wall.rule.duplicate": {"de": "Duplikat von {other}", "en": "duplicate of {other}"},
    "wall.rule.near_duplicate": {
        "de": "fast gleich ({pct:.0f} %) wie {other}",
        "en": "near-duplicate ({pct:.0f}%) of {other}",
    },
    "wall.rule.rate_cap": {
        "de": "Autor {author} hat in der letzten Stunde {n} Beiträge geschickt",
        "en": "author {author} posted {n} times in the last hour",
    },
    "wall.rule.post_moderation": {
        "de": "alle Regeln bestanden (Nachmoderation)",
        "en": "passed every rule (post-moderation)",
    },
    "wall.rule.pre_moderation": {
        "de": "alle Regeln bestanden; wartet auf eine Person (Vormoderation)",
        "en": "passed every rule; waits for a person (pre-moderation)",
    },
    # who decided: a rule (``rule:<name>``, its name a term) or a source (``source:<name>``)
    "wall.actor.rule": {"de": "{rule:t}", "en": "rule:{rule}"},
    "wall.actor.source": {"de": "Quelle {source}", "en": "source:{source}"},
    "term.blocked_user": {"de": "Autorensperre", "en": "blocked_user"},
    "term.blocked_word": {"de": "Wortsperre", "en": "blocked_word"},
    "term.link_policy": {"de": "Linkregel", "en": "link_policy"},
    "term.allowed_user": {"de": "Freigabeliste", "en": "allowed_user"},
    "term.boost": {"de": "Boost-Regel", "en": "boost"},
    "term.reply": {"de": "Antwort-Regel", "en": "reply"},
    "term.bot": {"de": "Bot-Regel", "en": "bot"},
    "term.language": {"de": "Sprachregel", "en": "language"},
    "term.sensitive": {"de": "Regel für sensible Inhalte", "en": "sensitive"},
    "term.duplicate": {"de": "Duplikatregel", "en": "duplicate"},
    "term.rate_cap": {"de": "Beitragslimit", "en": "rate_cap"},
    "term.mode": {"de": "Moderationsart", "en": "mode"},
    # -- reasons the wall's code writes into a post's history ------------------------------------
    "wall.why.deleted": {"de": "an der Quelle gelöscht", "en": "deleted at the source"},
    "wall.why.edited": {
        "de": "an der Quelle bearbeitet; der neue Text wird erneut moderiert",
        "en": "edited at the source; the new text is moderated again",
    },
    "wall.why.replaced": {
        "de": "ersetzt durch die Bearbeitung {post}",
        "en": "replaced by the edit {post}",
    },
    "wall.why.blocked": {
        "de": "Autor gesperrt (Entscheidung {id})",
        "en": "author blocked (decision {id})",
    },
    "wall.why.blocked_again": {
        "de": "Autor erneut gesperrt (Entscheidung {id})",
        "en": "author blocked again (decision {id})",
    },
    "wall.why.unblocked": {
        "de": "Autor entsperrt (Entscheidung {id})",
        "en": "author unblocked (decision {id})",
    },
    "wall.why.undo": {
        "de": "Entscheidung {id} rückgängig gemacht",
        "en": "undo decision {id}",
    },
    # -- manual moderation refused (eventops.wall.manual; HTTP 409/404 with msg_id) --------------
    "wall.now": {"de": "{state:t}", "en": "{state}"},
    "wall.now_pinned": {"de": "{state:t} und angeheftet", "en": "{state} and pinned"},
    "wall.err.by": {
        "de": "Entscheidung {id}: {action:t} von {actor}",
        "en": "decision {id}: {action} by {actor}",
    },
    "wall.err.who": {"de": " ({by})", "en": " ({by})"},
    "wall.err.no_post": {
        "de": "Beitrag {post}: keinen solchen Beitrag gefunden",
        "en": "post {post}: no such post",
    },
    "wall.err.no_decision": {
        "de": "Entscheidung {id}: keine solche Entscheidung gefunden",
        "en": "decision {id}: no such decision",
    },
    "wall.err.decided_since": {
        "de": "Beitrag {post}: Seit Sie ihn angesehen haben, wurde darüber entschieden{who}; "
        "er ist jetzt {now}",
        "en": "post {post}: decided on since you looked{who}; it is now {now}",
    },
    "wall.err.deleted": {
        "de": "Beitrag {post}: an der Quelle gelöscht; er kann nicht gezeigt werden",
        "en": "post {post}: deleted at the source; it cannot be shown",
    },
    "wall.err.deleted_again": {
        "de": "Beitrag {post}: an der Quelle gelöscht; er kann nicht wieder gezeigt werden",
        "en": "post {post}: deleted at the source; it cannot be shown again",
    },
    "wall.err.cannot": {
        "de": "Beitrag {post}: Ein Beitrag, der {now} ist, kann nicht {verb} werden",
        "en": "post {post}: cannot {verb} a post that is {now}",
    },
    "wall.verb.approve": {"de": "freigegeben", "en": "approve"},
    "wall.verb.reject": {"de": "abgelehnt", "en": "reject"},
    "wall.verb.pin": {"de": "angeheftet", "en": "pin"},
    "wall.verb.unpin": {"de": "losgelöst", "en": "unpin"},
    "wall.verb.take_down": {"de": "abgenommen", "en": "take down"},
    "wall.err.pinned": {
        "de": "Beitrag {post}: ist schon angeheftet",
        "en": "post {post}: already pinned",
    },
    "wall.err.not_pinned": {
        "de": "Beitrag {post}: ist nicht angeheftet (er ist {state:t})",
        "en": "post {post}: not pinned (it is {state})",
    },
    "wall.err.no_author": {
        "de": "Sperre: bitte den Autor angeben, z. B. x:alice",
        "en": "block: give the author, e.g. x:alice",
    },
    "wall.err.expiry_past": {
        "de": "Sperre von {author}: das Ende {until} liegt in der Vergangenheit",
        "en": "block of {author}: expiry {until} is in the past",
    },
    "wall.err.not_undoable": {
        "de": "Entscheidung {id}: Rückgängig machen lässt sich nur, was eine Person "
        "freigegeben, abgelehnt, angeheftet, losgelöst, abgenommen, gesperrt oder "
        "rückgängig gemacht hat",
        "en": "decision {id}: only a person's approve, reject, pin, unpin, take down, block or "
        "undo can be undone",
    },
    "wall.err.undid_gone": {
        "de": "Entscheidung {id}: hat eine Entscheidung rückgängig gemacht, die es nicht mehr gibt",
        "en": "decision {id}: undid a decision that no longer exists",
    },
    "wall.err.undid_block_hide": {
        "de": "Entscheidung {id}: hat einen durch eine Sperre ausgeblendeten Beitrag "
        "zurückgeholt; sie lässt sich nicht für sich allein rückgängig machen",
        "en": "decision {id}: restored a post hidden by a block; it cannot be undone on its own",
    },
    "wall.err.undone": {
        "de": "Entscheidung {id}: schon rückgängig gemacht (Entscheidung {undo}); "
        "Beitrag {post} ist {now}",
        "en": "decision {id}: already undone (decision {undo}); post {post} is {now}",
    },
    "wall.err.since": {
        "de": "Entscheidung {id}: Über Beitrag {post} wurde seitdem entschieden ({by}); "
        "er ist jetzt {now}{hint}",
        "en": "decision {id}: post {post} was decided on since ({by}); it is now {now}{hint}",
    },
    "wall.err.undo_first": {
        "de": "; zuerst Entscheidung {id} rückgängig machen",
        "en": "; undo decision {id} first",
    },
    "wall.err.lift_unrecorded": {
        "de": "Entscheidung {id}: hat eine Sperre aufgehoben, deren Ende nicht aufgezeichnet "
        "ist; um erneut zu sperren, den Autor von Beitrag {post} sperren",
        "en": "decision {id}: lifted a block whose end was not recorded; to block again "
        "decide block_author on post {post}",
    },
    "wall.err.lift_ended": {
        "de": "Entscheidung {id}: Die aufgehobene Sperre wäre um {until} abgelaufen; "
        "nichts wiederherzustellen",
        "en": "decision {id}: the block it lifted would have ended at {until}; nothing to put back",
    },
    # -- a post's media by kind (eventops.wall.normalize.media_kind) ------------------------------
    "term.photo": {"de": "Foto", "en": "photo"},
    "term.video": {"de": "Video", "en": "video"},
    "term.gif": {"de": "GIF", "en": "gif"},
    "term.audio": {"de": "Audio", "en": "audio"},
    # -- post states ({state:t}) -----------------------------------------------------------------
    "term.pending": {"de": "wartend", "en": "pending"},
    "term.approved": {"de": "freigegeben", "en": "approved"},
    "term.rejected": {"de": "abgelehnt", "en": "rejected"},
    "term.hidden": {"de": "ausgeblendet", "en": "hidden"},
    "term.taken_down": {"de": "abgenommen", "en": "taken down"},
    "term.edited": {"de": "an der Quelle bearbeitet", "en": "edited at the source"},
    # -- the wall's API refused (eventops.engine.wall, eventops.wall.display) -------------------
    "wall.err.state": {
        "de": "Zustand: einer von {states} oder all",
        "en": "state: one of {states} or all",
    },
    "wall.err.action": {"de": "Aktion: eine von {actions}", "en": "action: one of {actions}"},
    "wall.err.for_s": {
        "de": "eine Sperrdauer (for_s) gilt nur beim Sperren eines Autors",
        "en": "for_s applies only to block_author",
    },
    "wall.err.not_blocked": {"de": "{author}: ist nicht gesperrt", "en": "{author}: not blocked"},
    "wall.err.no_announcement": {
        "de": "Durchsage {id}: nicht im Profil (vorhanden: {known})",
        "en": "announcement {id}: not in the profile (known: {known})",
    },
    "wall.err.none_on_screens": {
        "de": "auf den Bildschirmen steht keine Durchsage",
        "en": "no announcement is on the screens",
    },
    "wall.err.replace_foreign": {
        "de": "nicht erlaubt: Auf den Bildschirmen steht eine andere Durchsage; eine Behörde "
        "ersetzt nur ihre eigene (die Pressestelle oder wer sie veröffentlicht hat, zieht "
        "sie zurück)",
        "en": "forbidden: another announcement is on the screens; an authority replaces only "
        "its own (comms or its issuer withdraws it)",
    },
    "wall.err.withdraw_foreign": {
        "de": "nicht erlaubt: Eine Behörde zieht nur ihre eigenen Durchsagen zurück",
        "en": "forbidden: an authority withdraws only its own announcements",
    },
    "wall.err.no_wall": {
        "de": "diese Engine betreibt keine Beitragswand",
        "en": "this engine runs no social wall",
    },
    "wall.err.no_such_wall": {"de": "keine solche Beitragswand", "en": "no such wall"},
    "wall.err.no_media": {"de": "hier gibt es keine Medien", "en": "no media here"},
    "wall.err.no_picture": {"de": "kein solches Bild", "en": "no such picture"},
}
