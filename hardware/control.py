"""The simulators' control API: faults and simulated time, on its own port.

Plain HTTP + JSON, separate from every device-facing port::

    GET  /                          fleet overview (devices, faults, links, time)
    GET  /devices/{id}
    POST /devices/{id}/faults       {"unreachable": bool, "slow_s": float, "lag_s": float,
                                     "malformed": bool,
                                     "http_500": bool, "wrong_credentials": bool,
                                     "reboot": true, "expire_sessions": true,
                                     "fire_rollback": true, "clear": true,
                                     masts only: "restart_rpcd": seconds,
                                     "remove_objects": ["iwinfo"], "restrict_acl": ["iwinfo"]}
    POST /links/{id}/down | /up | /restore
    POST /links/{id}/degrade        {"step_db": 1.0, "every_s": 10, "end": "a"|"b"}
    POST /links/{id}/crc            {"per_s": 50, "end": "a"|"b"}
    POST /time/advance              {"seconds": 60}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .openwrt_mast import OpenWrtMast

if TYPE_CHECKING:
    from .fleet import SimFleet


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class ControlServer:
    def __init__(self, fleet: SimFleet, host: str, port: int) -> None:
        self.fleet = fleet
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._overview)
        app.router.add_get("/devices/{id}", self._device)
        app.router.add_post("/devices/{id}/faults", self._faults)
        app.router.add_post("/links/{id}/{action}", self._link)
        app.router.add_post("/time/advance", self._advance)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            from .simbase import SimPortInUse

            raise SimPortInUse(
                exc.errno, f"control API: cannot listen on {self.host}:{self.port} ({exc.strerror})"
            ) from None
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(
                text='{"error":"body is not JSON"}', content_type="application/json"
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text='{"error":"body must be an object"}', content_type="application/json"
            )
        return body

    async def _overview(self, _request: web.Request) -> web.Response:
        return web.json_response(self.fleet.describe())

    async def _device(self, request: web.Request) -> web.Response:
        try:
            d = self.fleet.device(request.match_info["id"])
        except KeyError:
            return _bad(404, f"no device {request.match_info['id']!r}")
        return web.json_response(d.describe())

    async def _faults(self, request: web.Request) -> web.Response:
        dev_id = request.match_info["id"]
        try:
            d = self.fleet.device(dev_id)
        except KeyError:
            return _bad(404, f"no device {dev_id!r}")
        body = await self._body(request)
        known = {
            "unreachable",
            "slow_s",
            "lag_s",
            "malformed",
            "http_500",
            "wrong_credentials",
            "reboot",
            "expire_sessions",
            "fire_rollback",
            "clear",
            "restart_rpcd",
            "remove_objects",
            "restrict_acl",
        }
        unknown = set(body) - known
        if unknown:
            return _bad(400, f"unknown fault(s): {', '.join(sorted(unknown))}")
        if body.get("clear"):
            d.clear_faults()
            if d.unreachable:
                await d.set_unreachable(False)
            self.fleet.right_credentials(dev_id)
        if "slow_s" in body:
            if not isinstance(body["slow_s"], int | float) or body["slow_s"] < 0:
                return _bad(400, "slow_s must be a number of seconds >= 0")
            d.slow_s = float(body["slow_s"])
        if "lag_s" in body:
            if (
                not isinstance(body["lag_s"], int | float)
                or isinstance(body["lag_s"], bool)
                or not 0 <= body["lag_s"] <= 3600
            ):
                return _bad(400, "lag_s must be a number of seconds from 0 to 3600")
            d.lag_s = float(body["lag_s"])
        if "malformed" in body:
            d.malformed = bool(body["malformed"])
        if "http_500" in body:
            d.http_500 = bool(body["http_500"])
        if "wrong_credentials" in body:
            if body["wrong_credentials"]:
                self.fleet.wrong_credentials(dev_id)
            else:
                self.fleet.right_credentials(dev_id)
        if body.get("reboot"):
            self.fleet.reboot(dev_id)
        mast_only = {"expire_sessions", "fire_rollback", "restart_rpcd", "remove_objects"}
        if (mast_only | {"restrict_acl"}) & set(body) and not isinstance(d, OpenWrtMast):
            return _bad(400, f"{dev_id} is not a mast")
        if isinstance(d, OpenWrtMast):
            err = self._mast_faults(d, body)
            if err is not None:
                return err
        if body.get("expire_sessions") or body.get("fire_rollback"):
            if not isinstance(d, OpenWrtMast):
                return _bad(400, f"{dev_id} is not a mast")
            if body.get("expire_sessions"):
                d.expire_sessions()
            if body.get("fire_rollback") and not d.fire_rollback():
                return _bad(409, f"{dev_id} has no pending apply")
        if "unreachable" in body:
            await d.set_unreachable(bool(body["unreachable"]))
        return web.json_response(d.describe())

    @staticmethod
    def _mast_faults(d: OpenWrtMast, body: dict[str, Any]) -> web.Response | None:
        names = {"remove_objects", "restrict_acl"}
        for key in names & set(body):
            v = body[key]
            if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
                return _bad(400, f"{key} must be a list of ubus object names")
        if "restart_rpcd" in body:
            secs = body["restart_rpcd"]
            if not isinstance(secs, int | float) or isinstance(secs, bool) or not 0 <= secs <= 600:
                return _bad(400, "restart_rpcd must be seconds between 0 and 600")
            d.restart_rpcd(float(secs))
        for obj in body.get("remove_objects", []):
            d.remove_object(obj)
        if "restrict_acl" in body:
            for user in [u for u, v in d.users.items() if not v.read_only]:
                d.restrict_acl(user, tuple(body["restrict_acl"]))
        return None

    async def _link(self, request: web.Request) -> web.Response:
        link_id, action = request.match_info["id"], request.match_info["action"]
        if link_id not in self.fleet.links:
            return _bad(404, f"no link {link_id!r}")
        body = await self._body(request)
        try:
            if action == "down":
                self.fleet.link_down(link_id)
            elif action == "up":
                self.fleet.link_up(link_id)
            elif action == "restore":
                self.fleet.restore_link(link_id)
            elif action == "degrade":
                self.fleet.degrade_optics(
                    link_id,
                    step_db=float(body.get("step_db", 1.0)),
                    every_s=float(body.get("every_s", 10.0)),
                    end=body.get("end"),
                )
            elif action == "crc":
                self.fleet.crc_errors(link_id, float(body.get("per_s", 50.0)), end=body.get("end"))
            else:
                return _bad(404, f"unknown link action {action!r}")
        except (TypeError, ValueError) as exc:
            return _bad(400, str(exc))
        return web.json_response(
            next(x for x in self.fleet.describe()["links"] if x["id"] == link_id)
        )

    async def _advance(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            return _bad(400, "seconds must be a number >= 0")
        try:
            await self.fleet.advance(float(seconds))
        except TypeError as exc:
            return _bad(409, str(exc))
        return web.json_response({"time": self.fleet.clock.now().isoformat()})
