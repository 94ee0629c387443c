"""Opening an event store to read it without changing any file next to it.

``eventops audit verify`` and ``audit show`` promise that reading never
writes: not the store's bytes, not a schema into an empty file, not a side
file in its directory.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote


class _CopyConnection(sqlite3.Connection):
    """A connection to a private copy of the store; closing it removes the copy."""

    copy_dir: Path | None = None

    def close(self) -> None:
        super().close()
        if self.copy_dir is not None:
            shutil.rmtree(self.copy_dir, ignore_errors=True)
            self.copy_dir = None


def open_ro(path: Path) -> sqlite3.Connection:
    """The store, opened read-only, leaving every file next to it as it was.

    A cleanly closed store opens immutable (no side files). A running engine
    keeps ``-wal`` and ``-shm``: a reader shares them, as SQLite readers do.
    A ``-wal`` without ``-shm`` (an engine that died): reading it would
    create the ``-shm`` index next to the store, so a private copy of the
    store and its WAL is read instead.
    """
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    if wal.exists() and not shm.exists():
        tmp = Path(tempfile.mkdtemp(prefix="eventops-verify-"))
        try:
            shutil.copyfile(path, tmp / "store.sqlite3")
            shutil.copyfile(wal, tmp / "store.sqlite3-wal")
            copy = sqlite3.connect(
                f"file:{quote(str(tmp / 'store.sqlite3'))}?mode=ro",
                uri=True,
                isolation_level=None,
                factory=_CopyConnection,
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        assert isinstance(copy, _CopyConnection)
        copy.copy_dir = tmp
        con: sqlite3.Connection = copy
    else:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        if not wal.exists():
            uri += "&immutable=1"
        con = sqlite3.connect(uri, uri=True, isolation_level=None)
    con.row_factory = sqlite3.Row
    return con
