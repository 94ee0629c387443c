"""A throw-away PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary folder.

The server listens on a Unix socket only (``listen_addresses=''``), so it is
reachable from every network namespace on the machine and from nowhere else.
It runs as the ``postgres`` system user when the tests run as root (initdb
refuses root), as the current user otherwise. Passwords are checked
(``scram-sha-256`` on the socket), so a test can also see a wrong one refused.

Stable API (other branches build on it):

- :func:`find_bin_dir` — the newest ``/usr/lib/postgresql/<ver>/bin`` (or
  ``$EVENTOPS_PG_BIN``), None if PostgreSQL is not installed;
- :class:`PgCluster` — ``start()``, ``stop()``, ``host`` (the socket folder),
  ``port``, ``user``/``password`` (the tests' role, which may create databases),
  ``url(db)`` (a ``postgresql://`` URL without the password), ``dsn(db)`` (with it),
  ``create_database()`` / ``drop_database(name)``, ``psql(sql, db=...)``;
- :data:`PASSWORD_ENV` — the environment variable that holds the tests' password
  while the cluster runs, for a profile's ``password = "env:..."``.

Creating a database copies a template database (``evo_template``), which is fast
because the cluster runs with ``fsync=off`` (a test cluster: the server is never
killed, only its clients are).
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PASSWORD_ENV = "EVENTOPS_TEST_PGPASSWORD"
ADMIN = "evo_admin"
USER = "eventops"
TEMPLATE = "evo_template"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def find_bin_dir() -> Path | None:
    """The PostgreSQL server's bin folder: $EVENTOPS_PG_BIN, else Debian's newest version."""
    env = os.environ.get("EVENTOPS_PG_BIN")
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    found: list[tuple[int, Path]] = []
    for d in Path("/usr/lib/postgresql").glob("*/bin"):
        if (d / "initdb").exists() and (d / "pg_ctl").exists() and d.parent.name.isdigit():
            found.append((int(d.parent.name), d))
    return max(found)[1] if found else None


@dataclass
class PgCluster:
    """One PostgreSQL cluster in a temporary folder; see the module's docstring."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="evo-pg-")))
    port: int = 5432
    user: str = USER
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    admin_password: str = field(default_factory=lambda: secrets.token_hex(16))
    fsync: bool = False
    """True for a cluster whose commits reach the disk (benchmarks); tests need not wait."""
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _running: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def host(self) -> str:
        """The folder holding the server's socket (libpq's and asyncpg's ``host``)."""
        return str(self.root / "sock")

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    # -- running commands as the cluster's owner ----------------------------------------
    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self._as_owner(argv),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kw,  # type: ignore[call-overload]
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        return proc  # type: ignore[no-any-return]

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> PgCluster:
        (self.root / "sock").mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.admin_password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for p in (self.root, self.root / "sock", pwfile):
                os.chown(p, pg.pw_uid, pg.pw_gid)
        os.chmod(self.root, 0o755)  # the socket folder must be reachable by the tests
        os.chmod(self.root / "sock", 0o777)
        try:
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ADMIN,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )
            pwfile.unlink()
            with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as fh:
                fh.write(
                    "\n# eventops test cluster\n"
                    "listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.host}'\n"
                    "unix_socket_permissions = 0777\n"
                    f"port = {self.port}\n"
                    + ("" if self.fsync else "fsync = off\nfull_page_writes = off\n")
                    + "max_connections = 200\n"
                    "shared_buffers = 64MB\n"
                    "log_min_messages = warning\n"
                )
            self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                ]
            )
            self._running = True
            self.psql(
                f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{self.password}';\n"
                f"CREATE DATABASE {TEMPLATE} OWNER {USER} IS_TEMPLATE true;\n",
                db="postgres",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (immediately: it holds only test data) and remove the folder."""
        if self._running:
            subprocess.run(
                self._as_owner(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "stop",
                        "-m",
                        "immediate",
                        "-D",
                        str(self.data_dir),
                    ]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)

    # -- addresses ----------------------------------------------------------------------
    def url(self, db: str) -> str:
        """``postgresql://eventops@/DB?host=SOCKETDIR&port=N``, without the password."""
        return f"postgresql://{self.user}@/{db}?host={quote(self.host, safe='/')}&port={self.port}"

    def dsn(self, db: str) -> str:
        """As :meth:`url`, with the password in it (for code under test that takes a DSN)."""
        return (
            f"postgresql://{self.user}:{self.password}@/{db}"
            f"?host={quote(self.host, safe='/')}&port={self.port}"
        )

    # -- databases ------------------------------------------------------------------------
    def psql(self, sql: str, *, db: str) -> str:
        """Run ``sql`` as the cluster's superuser; returns psql's unaligned output."""
        env = {**os.environ, "PGPASSWORD": self.admin_password}
        proc = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                ADMIN,
                "-d",
                db,
            ],
            input=sql,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed: {proc.stderr.strip()}")
        return proc.stdout

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database owned by the tests' role (a copy of the template); its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        if not _NAME.match(name):
            raise ValueError(f"bad database name {name!r}")
        self.psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {self.user}", db="postgres")
        return name

    def drop_database(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad database name {name!r}")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", db="postgres")
