"""The audit log's keyed chain, signed checkpoints, and read-only verification.

A plain hash chain shows that no row in the middle was edited, but someone
holding the store file can delete the newest rows, empty the table, append a
row of their own or rewrite a row and recompute every later hash: the chain
still links. Two things close those gaps:

- **A keyed chain.** Every row also carries ``mac = HMAC-SHA256(k_mac,
  prev_mac "\\n" hash)``, so appending or rewriting needs the audit key, which
  lives outside the store (the profile's ``[audit] key``, a secret reference).
- **Signed checkpoints.** A checkpoint is a small JSON document naming the
  event, the head's sequence number and hash, the time, and an Ed25519
  signature with the id of the public key. It leaves the machine (the handover
  report, the export, ``/metrics``, the alert webhook); ``eventops audit verify
  --checkpoint`` then shows any truncation below it or any rewrite before it.

Both keys derive from the one audit secret with HKDF-SHA256 (separate labels),
so one reference in the profile is enough.

:func:`verify_store` opens the store with SQLite's ``mode=ro`` and never
writes; each way it can fail is its own :class:`~eventops.errors.StoreError`
class with its own exit code (see README's command table).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eventops import timefmt
from eventops.errors import (
    AuditChainBroken,
    AuditCheckpointError,
    AuditTableMissing,
    SecretError,
    StoreEmpty,
    StoreError,
)
from eventops.store.models import AuditEntry
from eventops.store.readonly import open_ro as _open_ro

if TYPE_CHECKING:
    from eventops.profile.models import Profile
    from eventops.store.base import Store

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "eventops-audit-checkpoint/1"
MIN_SECRET_BYTES = 16
_SIGN_CONTEXT = b"eventops audit checkpoint v1\n"


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_hash(
    prev: str,
    entry_id: int,
    ts: str,
    actor: str,
    action: str,
    target: str,
    before: str | None,
    after: str | None,
) -> str:
    """The plain chain: SHA-256 over the previous hash and this row's fields."""
    body = _canon([entry_id, ts, actor, action, target, before, after])
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


# -- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class AuditKey:
    """The MAC key and the checkpoint signing key, both derived from one secret."""

    mac_key: bytes
    signing: Ed25519PrivateKey

    @classmethod
    def from_secret(cls, secret: str | bytes) -> AuditKey:
        raw = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
        if len(raw) < MIN_SECRET_BYTES:
            raise SecretError(
                f"the audit key must be at least {MIN_SECRET_BYTES} bytes "
                "(e.g. `openssl rand -hex 32`)"
            )

        def derive(label: bytes) -> bytes:
            return HKDF(
                algorithm=hashes.SHA256(), length=32, salt=b"eventops-audit", info=label
            ).derive(raw)

        return cls(
            mac_key=derive(b"hmac-sha256 chain v1"),
            signing=Ed25519PrivateKey.from_private_bytes(derive(b"ed25519 checkpoint v1")),
        )

    def __repr__(self) -> str:  # never the key material
        return f"AuditKey({self.key_id})"

    @property
    def public_bytes(self) -> bytes:
        return self.signing.public_key().public_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_bytes)

    def mac(self, prev_mac: str, entry_hash: str) -> str:
        return hmac.new(self.mac_key, f"{prev_mac}\n{entry_hash}".encode(), "sha256").hexdigest()


def key_id_of(public: bytes) -> str:
    """A short, stable name of an Ed25519 public key."""
    return "ed25519:" + hashlib.sha256(public).hexdigest()[:32]


def audit_key(profile: Profile) -> AuditKey | None:
    """The profile's audit key (``[audit] key``), or None when the profile names none.

    Raises :class:`SecretError` (one line, naming the reference) when the
    reference cannot be read: running with a weaker log than the profile asks
    for would go unnoticed.
    """
    ref = profile.audit.key
    if ref is None:
        return None
    return AuditKey.from_secret(ref.reveal())


# -- checkpoints -------------------------------------------------------------------------------


class Checkpoint(BaseModel):
    """A signed statement: "event E's audit log had N entries ending in hash H at time T"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["eventops-audit-checkpoint/1"] = "eventops-audit-checkpoint/1"
    event: str = Field(min_length=1, max_length=200)
    seq: int = Field(ge=0, le=2**62)
    """The head's sequence number (audit entry id); 0: the log was empty."""
    head: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The head entry's chain hash (64 zeros when the log was empty)."""
    ts: datetime
    key_id: str = Field(pattern=r"^ed25519:[0-9a-f]{32}$")
    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$")
    """The Ed25519 public key, base64 of its 32 raw bytes."""
    signature: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$")

    def signed_bytes(self) -> bytes:
        return signed_payload(self.event, self.seq, self.head, self.ts, self.key_id)

    def check_signature(self) -> None:
        """Raise :class:`AuditCheckpointError` unless the signature and key id hold."""
        public = base64.b64decode(self.public_key)
        if key_id_of(public) != self.key_id:
            raise AuditCheckpointError("checkpoint: key id does not match its public key")
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                base64.b64decode(self.signature), self.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            raise AuditCheckpointError("checkpoint: the signature does not verify") from None


def signed_payload(event: str, seq: int, head: str, ts: datetime, key_id: str) -> bytes:
    body = _canon(
        {
            "event": event,
            "format": CHECKPOINT_FORMAT,
            "head": head,
            "key_id": key_id,
            "seq": seq,
            "ts": ts.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )
    return _SIGN_CONTEXT + body.encode()


def sign_checkpoint(
    key: AuditKey, event: str, seq: int, head: str, ts: datetime | None = None
) -> dict[str, Any]:
    """A checkpoint document (JSON-able dict) for the given head."""
    when = (ts or datetime.now(UTC)).astimezone(UTC)
    signature = key.signing.sign(signed_payload(event, seq, head, when, key.key_id))
    cp = Checkpoint(
        event=event,
        seq=seq,
        head=head,
        ts=when,
        key_id=key.key_id,
        public_key=base64.b64encode(key.public_bytes).decode(),
        signature=base64.b64encode(signature).decode(),
    )
    return cp.model_dump(mode="json")


async def write_checkpoint(
    store: Store, key: AuditKey, event: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Sign the store's current audit head; returns the checkpoint document.

    Call it at every export, handover and apply, and at intervals; put the
    result where someone else keeps it (report, export, webhook).
    """
    seq, head = await store.audit_head()
    return sign_checkpoint(key, event, seq, head, now)


async def audit_head_seq(store: Store) -> int:
    """The audit log's head sequence number, for ``/metrics`` (``eventops_audit_head_seq``)."""
    seq, _ = await store.audit_head()
    return seq


class CheckpointKeeper:
    """Signs the audit head at intervals and on demand; keeps the newest for readers.

    The engine owns one: ``take()`` at every export, handover and apply,
    ``run(interval, sleep)`` as a supervised task for the intervals. ``latest``
    feeds ``/metrics`` and the alert webhook (:func:`checkpoint_annotations`);
    ``on_checkpoint`` (if given) sends each one somewhere else as it is made.
    """

    def __init__(
        self,
        store: Store,
        key: AuditKey,
        event: str,
        *,
        on_checkpoint: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.key, self.event = store, key, event
        self.on_checkpoint = on_checkpoint
        self.now = now
        self.latest: dict[str, Any] | None = None

    async def take(self) -> dict[str, Any]:
        cp = await write_checkpoint(self.store, self.key, self.event, now=self.now())
        self.latest = cp
        if self.on_checkpoint is not None:
            await self.on_checkpoint(cp)
        return cp

    async def run(self, interval_s: float, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Take a checkpoint now and every ``interval_s`` until cancelled.

        A head that has not moved since the last checkpoint is not signed again.
        A failing store is logged and retried at the next interval.
        """
        while True:
            try:
                seq = await audit_head_seq(self.store)
                if self.latest is None or self.latest["seq"] != seq:
                    await self.take()
            except (StoreError, OSError) as exc:
                log.warning("audit checkpoint failed: %s", exc)
            await sleep(interval_s)


def checkpoint_annotations(cp: Mapping[str, Any]) -> dict[str, str]:
    """Alertmanager-style string annotations that carry a checkpoint in a webhook body."""
    return {
        "eventops_audit_seq": str(cp["seq"]),
        "eventops_audit_head": str(cp["head"]),
        "eventops_audit_checkpoint": json.dumps(cp, sort_keys=True, separators=(",", ":")),
    }


_HTML_MARK = "data-eventops-audit-checkpoint"
_HTML_RE = re.compile(rf"<pre {_HTML_MARK}[^>]*>(.*?)</pre>", re.S)


def checkpoint_html(cp: Mapping[str, Any] | None) -> str:
    """An HTML section that shows a checkpoint on paper and carries it for ``audit verify``."""
    if not cp:
        return ""
    doc = json.dumps(dict(cp), sort_keys=True, indent=1)
    return (
        '<section class="audit-checkpoint"><h2>Audit checkpoint</h2>'
        f"<p>The event's audit log had {int(cp['seq'])} entries at {html.escape(str(cp['ts']))}, "
        f"ending in <code>{html.escape(str(cp['head']))}</code>, signed by "
        f"<code>{html.escape(str(cp['key_id']))}</code>. Keep this report: "
        "<code>eventops audit verify PROFILE --checkpoint THIS_FILE</code> shows whether the "
        "log was cut short or rewritten since.</p>"
        f"<pre {_HTML_MARK}>{html.escape(doc)}</pre></section>"
    )


def embed_checkpoint(page: str, cp: Mapping[str, Any] | None) -> str:
    """``page`` with :func:`checkpoint_html` inserted before ``</body>`` (or appended)."""
    section = checkpoint_html(cp)
    if not section:
        return page
    at = page.rfind("</body>")
    return page + section if at < 0 else page[:at] + section + "\n" + page[at:]


MAX_CHECKPOINT_FILE = 256 * 1024 * 1024


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in ``path``: a checkpoint JSON, an export, or a handover report.

    The signature is checked here; whether the key is the event's is the
    caller's question. Raises :class:`AuditCheckpointError` with one line.
    """
    try:
        if path.stat().st_size > MAX_CHECKPOINT_FILE:
            raise AuditCheckpointError(f"{path}: too large for a checkpoint, export or report")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditCheckpointError(f"{path}: no such checkpoint file") from None
    except UnicodeDecodeError:
        raise AuditCheckpointError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise AuditCheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    raw: Any = None
    m = _HTML_RE.search(text)
    try:
        if m is not None:
            raw = json.loads(html.unescape(m.group(1)))
        else:
            doc = json.loads(text)
            raw = doc.get("audit_checkpoint", doc) if isinstance(doc, dict) else None
    except (ValueError, RecursionError):
        raise AuditCheckpointError(
            f"{path}: not a checkpoint, export or report (bad JSON)"
        ) from None
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise AuditCheckpointError(f"{path}: holds no audit checkpoint")
    try:
        cp = Checkpoint.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "checkpoint"
        raise AuditCheckpointError(
            f"{path}: malformed checkpoint ({where}: {first['msg']})"
        ) from None
    try:
        cp.check_signature()
    except AuditCheckpointError as exc:
        raise AuditCheckpointError(f"{path}: {exc}") from None
    return cp


# -- read-only verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    keyed: int
    """Entries that carry a MAC (the rest were written before the key was set)."""
    head_seq: int
    head: str
    checkpoint: Checkpoint | None


def verify_store(
    path: Path,
    key: AuditKey | None = None,
    checkpoint: Checkpoint | None = None,
    *,
    event: str | None = None,
    tz: tzinfo = UTC,
) -> VerifyResult:
    """Check the store's audit log read-only; raise one :class:`StoreError` class per fault
    (a checkpoint's time in a message is shown in ``tz``, the event's zone).

    - :class:`StoreError` (4): no file, or not an SQLite database;
    - :class:`StoreEmpty` (10): an empty file, or an SQLite file without eventops' schema;
    - :class:`AuditTableMissing` (11): an eventops store whose audit table is gone;
    - :class:`AuditCheckpointError` (12): the checkpoint is for another event or key;
    - :class:`AuditChainBroken` (5): the log was altered, cut short, or appended to
      without the key.
    """
    _exists(path)
    checkpoint_applies(checkpoint, key, event)
    wal = path.with_name(path.name + "-wal")
    had_wal = wal.exists()
    result = _verify(path, key, checkpoint, tz)
    if not had_wal and wal.exists():
        # an engine opened the store while we read it immutable: read again, properly
        result = _verify(path, key, checkpoint, tz)
    return result


def checkpoint_applies(
    checkpoint: Checkpoint | None, key: AuditKey | None, event: str | None
) -> None:
    """Raise :class:`AuditCheckpointError` unless ``checkpoint`` is this event's, by its key."""
    if checkpoint is None:
        return
    if event is not None and checkpoint.event != event:
        raise AuditCheckpointError(f"checkpoint is for event {checkpoint.event!r}, not {event!r}")
    if key is None:
        raise AuditCheckpointError(
            "checkpoint given but the profile names no [audit] key to trust it with"
        )
    if checkpoint.key_id != key.key_id:
        raise AuditCheckpointError(
            f"checkpoint is signed by {checkpoint.key_id}, not by this event's audit key "
            f"({key.key_id})"
        )


def _checked(path: Path) -> tuple[sqlite3.Connection, bool]:
    """The store opened read-only with its audit table present, and whether rows have ``mac``."""
    try:
        con = _open_ro(path)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open event store ({exc})") from None
    try:
        try:
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                r[0]
                for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            }
            columns = {r[1] for r in con.execute("PRAGMA table_info(audit)").fetchall()}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not an event store ({exc})") from None
        if version == 0 and not tables:
            raise StoreEmpty(f"{path}: an SQLite file without an event store's schema")
        if "audit" not in tables:
            raise AuditTableMissing(f"{path}: the audit table is missing (schema {version})")
    except BaseException:
        con.close()
        raise
    return con, "mac" in columns


def _select(has_mac: bool) -> str:
    return (
        "SELECT id, ts, actor, action, target, before, after, prev_hash, hash"
        + (", mac" if has_mac else ", NULL AS mac")
        + " FROM audit"
    )


def _verify(
    path: Path, key: AuditKey | None, checkpoint: Checkpoint | None, tz: tzinfo = UTC
) -> VerifyResult:
    con, has_mac = _checked(path)
    try:
        rows = con.execute(_select(has_mac) + " ORDER BY id")
        return _walk(path, rows, key, checkpoint, tz)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read the audit table ({exc})") from None
    finally:
        con.close()


def read_entries(path: Path, since_id: int = 0) -> list[AuditEntry]:
    """The audit entries after ``since_id``, read-only (for ``eventops audit show``)."""
    _exists(path)
    con, has_mac = _checked(path)
    try:
        rows = con.execute(_select(has_mac) + " WHERE id > ? ORDER BY id", (since_id,))
        return [AuditEntry.of_row(r, datetime.fromisoformat(r["ts"])) for r in rows]
    except (sqlite3.DatabaseError, ValueError, ValidationError) as exc:
        raise StoreError(f"{path}: cannot read the audit table ({exc})") from None
    finally:
        con.close()


def _exists(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise StoreError(f"{path}: no event store here yet") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read event store ({exc.strerror})") from None
    if size == 0:
        raise StoreEmpty(f"{path}: empty file, not an event store")


def _walk(
    path: Path | str,
    rows: Any,
    key: AuditKey | None,
    checkpoint: Checkpoint | None,
    tz: tzinfo = UTC,
) -> VerifyResult:
    prev, prev_mac, expected, count, keyed = GENESIS, GENESIS, 1, 0, 0
    first_keyed: int | None = None
    for r in rows:
        check_row(path, r, expected, prev)
        mac = r["mac"]
        if mac is None and key is not None:
            raise AuditChainBroken(
                f"{path}: audit entry {r['id']} carries no MAC: written without the audit key "
                "(forged, or before [audit] key was set)"
            )
        if mac is None:
            if first_keyed is not None:
                raise AuditChainBroken(
                    f"{path}: audit entry {r['id']} has no MAC though entry {first_keyed} "
                    "before it has: appended without the audit key"
                )
            prev_mac = GENESIS
        else:
            if first_keyed is None:
                first_keyed = r["id"]
            if key is not None and not _same_mac(key.mac(prev_mac, r["hash"]), mac):
                raise AuditChainBroken(
                    f"{path}: audit entry {r['id']} fails its MAC: written or rewritten "
                    "without the audit key"
                )
            prev_mac = str(mac)
            keyed += 1
        if checkpoint is not None and r["id"] == checkpoint.seq and r["hash"] != checkpoint.head:
            raise AuditChainBroken(
                f"{path}: audit entry {r['id']} differs from the checkpoint of "
                f"{timefmt.stamp(checkpoint.ts, tz)}: the log was rewritten"
            )
        prev, expected, count = r["hash"], expected + 1, count + 1
    if checkpoint is not None and count < checkpoint.seq:
        raise AuditChainBroken(
            f"{path}: the audit log ends at entry {count} but the checkpoint of "
            f"{timefmt.stamp(checkpoint.ts, tz)} vouches for {checkpoint.seq}: "
            f"{checkpoint.seq - count} entries were removed"
        )
    if checkpoint is not None and checkpoint.seq == 0 and checkpoint.head != GENESIS:
        raise AuditChainBroken(f"{path}: the checkpoint's empty head is not the genesis hash")
    return VerifyResult(count, keyed, count, prev, checkpoint)


def _same_mac(expected: str, stored: object) -> bool:
    """Constant-time comparison with whatever the row holds (text, a blob, a number)."""
    raw = stored if isinstance(stored, bytes) else str(stored).encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected.encode("ascii"), raw)


def check_row(path: Path | str, r: Any, expected: int, prev: str) -> None:
    """The plain-chain checks of one row (shared with the store's own verify)."""
    if r["id"] != expected:
        raise AuditChainBroken(f"{path}: audit entry {expected} is missing")
    if r["prev_hash"] != prev:
        raise AuditChainBroken(f"{path}: audit entry {r['id']} does not follow entry {r['id'] - 1}")
    digest = audit_hash(
        prev, r["id"], r["ts"], r["actor"], r["action"], r["target"], r["before"], r["after"]
    )
    if digest != r["hash"]:
        raise AuditChainBroken(f"{path}: audit entry {r['id']} was altered")
