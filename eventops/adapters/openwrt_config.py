"""The ``openwrt`` driver's UCI config: get, stage, compare, apply/confirm, rollback."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from eventops.adapters import ubus
from eventops.adapters.base import (
    SECRET_KEYS,
    Change,
    ConfigDiff,
    ConfigTree,
)
from eventops.adapters.openwrt_core import (
    OpenWrtCore,
    _uci_out,
)
from eventops.errors import (
    DeviceError,
    DeviceUnreachable,
    PermissionDenied,
    ProtocolError,
    ProvisioningError,
)


class OpenWrtConfigMixin(OpenWrtCore):
    # -- config ------------------------------------------------------------

    async def get_config(self) -> ConfigTree:
        calls = [ubus.UbusCall("uci", "get", {"config": c}) for c in self.configs]
        parts = await self.batch(calls)
        for n, (c_, part) in enumerate(zip(calls, parts, strict=True)):
            if isinstance(part, ubus.ObjectNotFound):  # uci is required: wait out a restart
                try:
                    parts[n] = await self.call(c_.object, c_.method, c_.args)
                except ProtocolError as exc:
                    parts[n] = exc
        tree: ConfigTree = {}
        for c, part in zip(self.configs, parts, strict=True):
            if isinstance(part, ProtocolError) and part.code == 4:
                continue  # this config does not exist on the device
            if isinstance(part, DeviceError):
                raise part
            sections: dict[str, Any] = {}
            values = part.get("values") or {}
            for sec_name, sec in sorted(values.items(), key=lambda kv: kv[1].get(".index", 0)):
                if not isinstance(sec, dict):
                    continue
                sections[sec_name] = {".type": sec.get(".type")} | {
                    k: v for k, v in sec.items() if not k.startswith(".")
                }
            tree[c] = sections
        return tree

    async def load_candidate(self, candidate: ConfigTree) -> None:
        running = await self.get_config()
        self._running = running
        self._candidate = candidate
        calls: list[ubus.UbusCall] = []
        for config, sections in candidate.items():
            if not isinstance(sections, Mapping):
                raise ProvisioningError(
                    f"{self.device_id}: candidate {config!r} is not a mapping of sections"
                )
            have = running.get(config)
            if have is None:
                raise ProvisioningError(
                    f"{self.device_id}: UCI config {config!r} does not exist on the device"
                )
            for sec, options in sections.items():
                if not isinstance(options, Mapping):
                    raise ProvisioningError(
                        f"{self.device_id}: {config}.{sec} is not a mapping of options"
                    )
                values = {
                    k: _uci_out(v)
                    for k, v in options.items()
                    if not k.startswith(".") and v is not None
                }
                removed = [k for k, v in options.items() if v is None and k in have.get(sec, {})]
                if sec not in have:
                    typ = options.get(".type")
                    if not isinstance(typ, str):
                        raise ProvisioningError(
                            f"{self.device_id}: new section {config}.{sec} needs a '.type'"
                        )
                    calls.append(
                        ubus.UbusCall(
                            "uci",
                            "add",
                            {"config": config, "type": typ, "name": sec, "values": values},
                        )
                    )
                    continue
                changed = {k: v for k, v in values.items() if have[sec].get(k) != v}
                if changed:
                    calls.append(
                        ubus.UbusCall(
                            "uci", "set", {"config": config, "section": sec, "values": changed}
                        )
                    )
                if removed:
                    calls.append(
                        ubus.UbusCall(
                            "uci", "delete", {"config": config, "section": sec, "options": removed}
                        )
                    )
        if not calls:
            return
        for part in await self.batch(calls):
            if isinstance(part, DeviceError):
                raise part

    async def _changes(self) -> dict[str, list[list[Any]]]:
        data = await self.call("uci", "changes")
        changes = data.get("changes") or {}
        if not isinstance(changes, dict):
            raise ProtocolError(self.device_id, "uci changes: unexpected answer")
        return {c: v for c, v in changes.items() if isinstance(v, list) and v}

    async def compare(self) -> ConfigDiff:
        running = self._running if self._running is not None else await self.get_config()
        changes = await self._changes()
        staged = replay_changes(running, changes)
        out: list[Change] = []
        for config in sorted(changes):
            old_cfg, new_cfg = running.get(config, {}), staged.get(config, {})
            for sec in sorted(set(old_cfg) | set(new_cfg)):
                old_sec, new_sec = old_cfg.get(sec), new_cfg.get(sec)
                if old_sec is None and new_sec is not None:
                    out.append(
                        Change(path=f"{config}.{sec}", op="add", new=f"({new_sec.get('.type')})")
                    )
                elif new_sec is None and old_sec is not None:
                    out.append(
                        Change(
                            path=f"{config}.{sec}",
                            op="remove",
                            old=f"({old_sec.get('.type', '?')})",
                        )
                    )
                    continue
                old_opts, new_opts = old_sec or {}, new_sec or {}
                for opt in sorted(set(old_opts) | set(new_opts)):
                    if opt.startswith("."):
                        continue
                    old, new = old_opts.get(opt), new_opts.get(opt)
                    if old == new:
                        continue
                    path, secret = f"{config}.{sec}.{opt}", opt in SECRET_KEYS
                    if old is None:
                        out.append(Change(path=path, op="add", new=new, secret=secret))
                    elif new is None:
                        out.append(Change(path=path, op="remove", old=old, secret=secret))
                    else:
                        out.append(Change(path=path, op="change", old=old, new=new, secret=secret))
        out.sort(key=lambda c: c.path)
        return ConfigDiff(device=self.device_id, changes=out)

    async def commit(self, confirm_timeout: float | None = None) -> None:
        args: dict[str, Any] = {"rollback": confirm_timeout is not None}
        if confirm_timeout is not None:
            args["timeout"] = max(1, math.ceil(confirm_timeout))
        try:
            await self.call("uci", "apply", args)
        except ubus.UciStateError as exc:
            raise ProtocolError(
                self.device_id,
                f"uci apply refused: {exc.message.split(': ', 1)[-1]}",
                code=exc.code,
            ) from None
        if confirm_timeout is None and await self._changes():
            # rpcd answers a plain apply with [0] and applies nothing while
            # another session's apply waits for its confirm
            raise ProtocolError(
                self.device_id,
                "uci apply answered OK but applied nothing: the changes are still staged "
                "(another apply is waiting for its confirm)",
                code=6,
            )
        self._commit_t = self.clock.monotonic()
        self._apply_deadline = (
            self.clock.monotonic() + confirm_timeout if confirm_timeout is not None else None
        )

    async def confirm(self) -> None:
        deadline = self._apply_deadline
        # Only confirm once the mast answers us again (a change may have moved it).
        while True:
            try:
                data = await self.call(
                    "session", "access", {"scope": "ubus", "object": "uci", "function": "confirm"}
                )
                break
            except DeviceUnreachable:
                if deadline is None or self.clock.monotonic() >= deadline:
                    raise
                await self.clock.sleep(self.confirm_poll_s)
        if data.get("access") is not True:
            raise PermissionDenied(
                self.device_id,
                f"uci confirm: the ACL of {self.management.username!r} does not allow it",
            )
        try:
            await self.call("uci", "confirm")
        except ubus.NothingPending:
            self._apply_deadline = None
            raise ProvisioningError(
                f"{self.device_id}: nothing to confirm: {await self._state_after_lost_apply()}"
            ) from None
        except ubus.OtherSessionsApply:
            raise ProvisioningError(
                f"{self.device_id}: the pending apply belongs to another session (ubus status 6)"
            ) from None
        self._apply_deadline = None

    async def _state_after_lost_apply(self) -> str:
        """Read the mast back and say which config it runs now that no apply is pending."""
        try:
            if await self._changes():
                # rpcd put the applied delta back into our staging: it rolled back
                return (
                    "the mast has no pending apply and runs the old config "
                    "(the rollback timer already fired; the change is staged again)"
                )
            now_cfg = await self.get_config()  # nothing staged: this is the running config
        except DeviceError as exc:
            return f"the mast has no pending apply and its config could not be read ({exc.message})"
        cand = self._candidate or {}
        old = self._running or {}
        if cand and _contains(now_cfg, cand):
            why = "rpcd restarted before confirm"
            try:
                info = await self.call("system", "info")
                up = info.get("uptime")
                since = self.clock.monotonic() - self._commit_t
                if isinstance(up, int | float) and up < since:
                    why = "the mast rebooted before confirm"
            except DeviceError:
                pass
            return f"new config kept: {why} (the pending apply was lost, no rollback will happen)"
        if old and all(now_cfg.get(c) == old.get(c) for c in cand or old):
            return (
                "the mast has no pending apply and runs the old config "
                "(the rollback timer already fired, or it rebooted)"
            )
        return "the mast has no pending apply and runs neither the old nor the new config"

    async def discard(self) -> None:
        changes = await self._changes()
        for part in await self.batch(
            [ubus.UbusCall("uci", "revert", {"config": c}) for c in changes]
        ):
            if isinstance(part, DeviceError):
                raise part
        self._running = None

    async def rollback(self) -> None:
        try:
            await self.call("uci", "rollback")
        except ubus.NothingPending:
            raise ProvisioningError(
                f"{self.device_id}: no unconfirmed apply to roll back"
            ) from None
        self._apply_deadline = None

    async def reboot(self) -> None:
        await self.call("system", "reboot")
        self._sid = None


def _contains(tree: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Every option of ``want`` (a candidate; None = removed) holds in ``tree``."""
    for config, sections in want.items():
        have_cfg = tree.get(config)
        if not isinstance(have_cfg, Mapping) or not isinstance(sections, Mapping):
            return False
        for sec, options in sections.items():
            have = have_cfg.get(sec)
            if not isinstance(have, Mapping) or not isinstance(options, Mapping):
                return False
            for k, v in options.items():
                if k.startswith("."):
                    continue
                if v is None:
                    if k in have:
                        return False
                elif have.get(k) != _uci_out(v):
                    return False
    return True


def replay_changes(
    running: Mapping[str, Any], changes: Mapping[str, Sequence[Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The configs after rpcd's delta records for each config, replayed on ``running``.

    Records: ``["add", sec, type]`` (anonymous section), ``["set", sec, type]``
    (named section), ``["set", sec, opt, val]``, ``["remove", sec]``,
    ``["remove", sec, opt]``, ``["list-add", sec, opt, val]``,
    ``["list-del", sec, opt, val]``; anything else is ignored.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for config, recs in changes.items():
        base = running.get(config) or {}
        cfg = {
            sec: {k: (list(v) if isinstance(v, list) else v) for k, v in opts.items()}
            for sec, opts in base.items()
            if isinstance(opts, Mapping)
        }
        for rec in recs:
            if (
                not isinstance(rec, list)
                or len(rec) < 2
                or not all(isinstance(x, str) for x in rec)
            ):
                continue
            op, sec = rec[0], rec[1]
            if op in ("add", "set") and len(rec) == 3:
                cfg.setdefault(sec, {})[".type"] = rec[2]
            elif op == "set" and len(rec) == 4 and sec in cfg:
                cfg[sec][rec[2]] = rec[3]
            elif op == "remove" and len(rec) == 2:
                cfg.pop(sec, None)
            elif op == "remove" and len(rec) == 3 and sec in cfg:
                cfg[sec].pop(rec[2], None)
            elif op == "list-add" and len(rec) == 4 and sec in cfg:
                have = cfg[sec].get(rec[2])
                if isinstance(have, list):
                    have.append(rec[3])
                else:
                    cfg[sec][rec[2]] = [have, rec[3]] if isinstance(have, str) else [rec[3]]
            elif op == "list-del" and len(rec) == 4 and sec in cfg:
                have = cfg[sec].get(rec[2])
                if isinstance(have, list):
                    cfg[sec][rec[2]] = [x for x in have if x != rec[3]]
        out[config] = cfg
    return out
