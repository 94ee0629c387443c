"""Certificates for simulators that speak HTTPS.

A :class:`SimIdentity` is a certificate for the loopback addresses, issued by
a throw-away CA (trustme). Its :attr:`pin` is the SHA-256 of the DER
certificate, exactly what a profile's ``tls_pin`` holds, so a test can put
it in a profile before the simulator starts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class SimIdentity:
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def generate(cls, *names: str) -> SimIdentity:
        ca = trustme.CA()
        cert = ca.issue_cert(*(names or ("127.0.0.1", "::1", "localhost")))
        return cls(
            cert_pem=b"".join(p.bytes() for p in cert.cert_chain_pems),
            key_pem=cert.private_key_pem.bytes(),
        )

    @classmethod
    def from_files(cls, cert: Path, key: Path) -> SimIdentity:
        """A certificate chain and its key from PEM files (so a profile can pin it for good)."""
        return cls(cert_pem=cert.read_bytes(), key_pem=key.read_bytes())

    def write(self, cert: Path, key: Path) -> None:
        cert.write_bytes(self.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(self.key_pem)

    @property
    def pin(self) -> str:
        """SHA-256 of the leaf certificate (DER), lower-case hex."""
        first = (
            self.cert_pem.split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
        )
        der = ssl.PEM_cert_to_DER_cert(first.decode())
        return hashlib.sha256(der).hexdigest()

    @functools.cached_property
    def _context(self) -> ssl.SSLContext:
        return self._make_context()

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting this certificate (one per identity, shared)."""
        return self._context

    def _make_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # ssl wants files; write both to a private temp file and load at once.
        fd, path = tempfile.mkstemp(prefix="evo-sim-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.key_pem + self.cert_pem)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
        return ctx
