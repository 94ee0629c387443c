"""``eventops serve`` with a certificate: HTTPS only, verified against the test CA."""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
from pathlib import Path

import aiohttp
import trustme

from .test_cli_engine import demo_copy


async def test_serve_over_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    path, api = demo_copy(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        "serve",
        str(path),
        "--db",
        str(tmp_path / "tls.sqlite3"),
        "--tls-cert",
        str(cert_file),
        "--tls-key",
        str(key_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("eventops: serving") and f"https://127.0.0.1:{api}/" in line
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)
        async with aiohttp.ClientSession() as s:
            async with s.get(
                f"https://127.0.0.1:{api}/api/v1/whoami",
                headers={"Authorization": "Bearer demo-technician-token"},
                ssl=ctx,
            ) as r:
                assert r.status == 200 and (await r.json())["role"] == "technician"
            # plain HTTP on the TLS port gets no API
            try:
                async with s.get(f"http://127.0.0.1:{api}/healthz") as r:
                    assert r.status == 400
            except aiohttp.ClientError:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_serve_with_missing_key_is_one_line(tmp_path: Path) -> None:
    path, _ = demo_copy(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        "serve",
        str(path),
        "--tls-cert",
        str(tmp_path / "nope.pem"),
        "--tls-key",
        str(tmp_path / "nokey.pem"),
        "--db",
        str(tmp_path / "x.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert err.decode().strip() == f"eventops: error: TLS: {tmp_path / 'nope.pem'}: no such file"
