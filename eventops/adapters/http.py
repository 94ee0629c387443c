"""One HTTP exchange with a device, with transport faults mapped to the hierarchy.

Both drivers go through :func:`exchange`: a refused connection, a TLS pin
mismatch, a dropped connection and a timeout each become the matching
:class:`~eventops.errors.DeviceError` with a one-line message naming the
device and its address.

Every request has its own timeout (the device's ``timeout_s``), on the
driver's clock: a device that answers each request in time is never
"unreachable" because a whole poll of several requests took longer. A
timeout names the request that got no answer, e.g. ``no answer to GET
…/openconfig-interfaces:interfaces within 2 s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from eventops.clock import Clock, SystemClock, within
from eventops.errors import DeviceTimeout, DeviceUnreachable


def request_name(method: str, url: str) -> str:
    """``GET …/openconfig-interfaces:interfaces``: the method and the path's last segment."""
    path = urlsplit(url).path.rstrip("/") or "/"
    head, _, last = path.rpartition("/")
    return f"{method} {'…/' if head else '/'}{last}"


async def exchange(
    device: str,
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout_s: float,
    ssl: aiohttp.Fingerprint | bool,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    what: str | None = None,
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """Send one request and read the whole answer: (status, headers, body).

    ``timeout_s`` bounds this one request, on ``clock`` (and on the wall
    clock in the transport); ``what`` names it in a timeout's message
    (default: the method and the last segment of the URL's path).
    """

    async def send() -> tuple[int, CIMultiDictProxy[str], bytes]:
        async with session.request(
            method,
            url,
            data=data,
            headers=dict(headers or {}),
            ssl=ssl,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            return resp.status, resp.headers, body

    try:
        return await within(clock or SystemClock(), timeout_s, send())
    except aiohttp.ServerFingerprintMismatch as exc:
        raise DeviceUnreachable(
            device,
            f"TLS certificate at {url} does not match the profile's tls_pin "
            f"(device presents sha256 {exc.got.hex()})",
        ) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise DeviceUnreachable(device, f"TLS certificate at {url} rejected ({exc})") from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            reason = "connection refused"
        else:
            reason = exc.os_error.strerror or str(exc.os_error) or exc.__class__.__name__
        raise DeviceUnreachable(device, f"cannot connect to {url} ({reason})") from None
    except TimeoutError:
        name = what or request_name(method, url)
        raise DeviceTimeout(device, f"no answer to {name} within {timeout_s:g} s") from None
    except aiohttp.ClientSSLError as exc:
        raise DeviceUnreachable(device, f"TLS handshake with {url} failed ({exc})") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
        raise DeviceUnreachable(
            device, f"{url} closed the connection without a complete answer"
        ) from None
    except aiohttp.ClientError as exc:
        raise DeviceUnreachable(
            device, f"request to {url} failed ({exc.__class__.__name__}: {exc})"
        ) from None
    except OSError as exc:
        raise DeviceUnreachable(
            device, f"request to {url} failed ({exc.strerror or exc})"
        ) from None


def new_session(limit: int = 4) -> aiohttp.ClientSession:
    """A small client session for a driver that was not given a shared one."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))
