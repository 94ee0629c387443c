"""The store's schema, as forward migrations applied at open.

``PRAGMA user_version`` holds the schema version. A migration is never edited
once released: change the schema by appending a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            timezone TEXT NOT NULL
        );
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            driver TEXT NOT NULL,
            site TEXT,
            address TEXT NOT NULL
        );
        CREATE TABLE samples (
            device TEXT NOT NULL,
            metric TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            value REAL NOT NULL
        );
        CREATE INDEX samples_by_series ON samples (device, metric, ts_ms);
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            severity TEXT NOT NULL,
            subject TEXT NOT NULL,
            summary TEXT NOT NULL,
            state TEXT NOT NULL,
            raised_at TEXT NOT NULL,
            cleared_at TEXT,
            acked_by TEXT,
            ack_note TEXT,
            labels TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX alerts_by_key ON alerts (key, state);
        CREATE TABLE probe_results (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            target TEXT NOT NULL,
            kind TEXT NOT NULL,
            passed INTEGER,
            result TEXT NOT NULL
        );
        CREATE INDEX probe_results_by_target ON probe_results (target, ts);
        CREATE TABLE posts (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            author TEXT NOT NULL,
            author_name TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX posts_by_state ON posts (state, created_at);
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            post_id TEXT NOT NULL,
            ts TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX decisions_by_post ON decisions (post_id);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            before TEXT,
            after TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        """,
    ),
    (
        2,
        """
        CREATE TABLE applies (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            actor TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE apply_devices (
            apply_id INTEGER NOT NULL REFERENCES applies (id),
            device TEXT NOT NULL,
            result TEXT NOT NULL,
            checksum TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (apply_id, device)
        );
        CREATE TABLE cursors (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE INDEX posts_by_author ON posts (author);
        """,
    ),
    (
        3,
        """
        ALTER TABLE decisions ADD COLUMN prev_state TEXT;
        ALTER TABLE decisions ADD COLUMN prev_pinned INTEGER;
        ALTER TABLE decisions ADD COLUMN ref INTEGER;
        CREATE INDEX decisions_by_ref ON decisions (ref);
        CREATE TABLE author_blocks (
            author TEXT PRIMARY KEY,
            until TEXT,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL,
            decision_id INTEGER,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        """
        CREATE TABLE handovers (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            link TEXT NOT NULL,
            authority TEXT NOT NULL,
            actor TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX handovers_by_link ON handovers (link, id);
        """,
    ),
    (
        5,
        # The keyed chain: HMAC-SHA256 over the previous MAC and the row's hash
        # (eventops.store.audit). Rows from before stay NULL; the triggers keep
        # the table append-only, so no row can be back-filled.
        """
        ALTER TABLE audit ADD COLUMN mac TEXT;
        """,
    ),
    (
        6,
        """
        CREATE TABLE pending_restores (
            device TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            apply_id INTEGER NOT NULL,
            driver TEXT NOT NULL,
            armed_at TEXT NOT NULL,
            deadline TEXT NOT NULL,
            previous TEXT NOT NULL,
            withheld TEXT NOT NULL DEFAULT '[]'
        );
        """,
    ),
    (
        7,
        # An alert's summary as a message id with parameters (eventops.i18n), so that
        # clients show it in their language; rows from before keep only the English text.
        """
        ALTER TABLE alerts ADD COLUMN msg_id TEXT;
        ALTER TABLE alerts ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
        """,
    ),
    (
        8,
        # Silences survive a restart; a removed one keeps its row (who removed it, when).
        """
        CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            matchers TEXT NOT NULL,
            until TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            removed_at TEXT,
            removed_by TEXT
        );
        CREATE INDEX silences_active ON silences (removed_at, until);
        """,
    ),
    (
        9,
        # The timeline is read a page at a time (eventops.store.timeline): each source in
        # the order of its key, (time, id) — the audit log's (time, action, id).
        """
        CREATE INDEX alerts_by_raised ON alerts (raised_at, id);
        CREATE INDEX alerts_by_cleared ON alerts (cleared_at, id);
        CREATE INDEX probe_results_by_ts ON probe_results (ts, id);
        CREATE INDEX decisions_by_ts ON decisions (ts, id);
        CREATE INDEX handovers_by_ts ON handovers (ts, id);
        CREATE INDEX audit_by_ts ON audit (ts, action, id);
        """,
    ),
    (
        10,
        # A decision's reason as a message id with parameters (eventops.i18n), so that
        # clients show a rule's reason in their language; a person's typed reason and rows
        # from before keep only the text.
        """
        ALTER TABLE decisions ADD COLUMN reason_id TEXT;
        ALTER TABLE decisions ADD COLUMN reason_params TEXT NOT NULL DEFAULT '{}';
        """,
    ),
)

LATEST = MIGRATIONS[-1][0]
