"""Test network guard: no test may send to anything but loopback or its own namespaces.

Patches the socket methods that start or send traffic (connect, connect_ex,
sendto, sendmsg). A destination outside 127.0.0.0/8, ::1 and the networks a
test registered with :func:`allow` raises :class:`NetworkGuardViolation` and
is recorded, so the test fails even if the code under test swallows the
error. Python subprocesses inherit the guard through ``sitecustomize`` (the
folder of this file is put on PYTHONPATH) and append violations to the file
named by ``EVENTOPS_NETGUARD_LOG``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
]
violations: list[str] = []
_installed = False


class NetworkGuardViolation(RuntimeError):
    pass


def allow(network: str) -> None:
    """Let tests reach ``network`` (a namespace subnet the test created)."""
    _allowed.append(ipaddress.ip_network(network, strict=False))


def disallow(network: str) -> None:
    net = ipaddress.ip_network(network, strict=False)
    if net in _allowed:
        _allowed.remove(net)


def _env_allowed() -> None:
    for net in filter(None, os.environ.get("EVENTOPS_NETGUARD_ALLOW", "").split(",")):
        allow(net)


def permitted(family: int, address: Any) -> bool:
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True  # unix, netlink, packet sockets: not network traffic
    if address is None:
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", "ip6-localhost"):
        return str(host) != ""
    try:
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a name we would have to resolve: not allowed
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _allowed if net.version == ip.version)


def _record(what: str, address: Any) -> None:
    msg = f"{what} to {address!r} blocked by the test network guard"
    violations.append(msg)
    log = os.environ.get("EVENTOPS_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"pid {os.getpid()}: {msg}\n")
    raise NetworkGuardViolation(msg)


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _env_allowed()
    sock_cls = socket.socket
    orig_connect = sock_cls.connect
    orig_connect_ex = sock_cls.connect_ex
    orig_sendto = sock_cls.sendto
    orig_sendmsg = sock_cls.sendmsg

    def connect(self: socket.socket, address: Any) -> None:
        if not permitted(self.family, address):
            _record("connect", address)
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not permitted(self.family, address):
            _record("connect", address)
        return orig_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1] if args else None
        if not permitted(self.family, address):
            _record("sendto", address)
        return orig_sendto(self, data, *args)

    def sendmsg(
        self: socket.socket, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None
    ) -> int:
        if not permitted(self.family, address):
            _record("sendmsg", address)
        if address is None:
            return orig_sendmsg(self, buffers, ancdata, flags)
        return orig_sendmsg(self, buffers, ancdata, flags, address)

    sock_cls.connect = connect  # type: ignore[method-assign,assignment]
    sock_cls.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    sock_cls.sendto = sendto  # type: ignore[method-assign,assignment]
    sock_cls.sendmsg = sendmsg  # type: ignore[method-assign,assignment]
