"""The ``openwrt`` mast driver: ubus JSON-RPC over HTTP(S) (uhttpd-mod-ubus + rpcd).

- Logs in with the all-zero sid; one session per driver, reused across
  polls (it slides, 300 s by default) and destroyed by :meth:`close`. An
  ``-32002 Access denied`` (expired session or ACL) triggers one fresh
  login and a retry; a second denial is :class:`PermissionDenied`, and the
  call is remembered as an ACL denial so later polls do not log in again.
- ``-32000`` for an object that lives in rpcd (``uci``, ``session``,
  ``iwinfo``, ``file``) is retried for a few seconds: rpcd's objects vanish
  while it restarts. Only then is it "not offered".
- Status comes from two batches: ``system board/info``, ``network.interface
  dump``, ``network.device status``, ``iwinfo devices``; then per radio
  ``iwinfo info/assoclist/survey``. An object the device lacks, or that the
  user's ACL denies, is listed in :attr:`DeviceStatus.unsupported` with its
  reason in :attr:`DeviceStatus.unavailable` ("rpcd-mod-iwinfo not
  installed", "access denied to monitor"); it never fails the device.
- Config is UCI, as ``{config: {section: {".type": type, option: value}}}``.
  ``load_candidate`` stages ``uci add/set/delete`` in our session,
  ``compare`` replays ``uci changes`` (rpcd's delta records: named adds as
  three-element ``set``, lists as ``remove`` + ``list-add``) on the running
  config and diffs the result; ``commit`` is ``uci apply`` (with
  ``rollback: true`` and a timeout when a confirm timeout is given) and
  checks that something was applied; ``confirm`` waits until the mast
  answers us again, then ``uci confirm``. If the session got lost meanwhile,
  logging in again as the same user hands back the pending apply session
  (rpcd does that while that session exists). If nothing is pending any
  more, confirm reads the running config back and says which state the
  mast is in (new config kept after an rpcd restart or reboot, or rolled back).
"""

from __future__ import annotations

from eventops.adapters.base import Capabilities
from eventops.adapters.openwrt_config import OpenWrtConfigMixin, _contains, replay_changes
from eventops.adapters.openwrt_core import (
    DEFAULT_CONFIGS,
    MAX_SKEW_S,
    MIN_RELEASE,
    REQUIRED_CALLS,
    OpenWrtCore,
    PreflightItem,
    _band,
    _num,
    _uci_out,
    _width,
)
from eventops.adapters.openwrt_status import OpenWrtStatusMixin

__all__ = [
    "DEFAULT_CONFIGS",
    "MAX_SKEW_S",
    "MIN_RELEASE",
    "REQUIRED_CALLS",
    "OpenWrtCore",
    "OpenWrtDriver",
    "PreflightItem",
    "_band",
    "_contains",
    "_num",
    "_uci_out",
    "_width",
    "replay_changes",
]


class OpenWrtDriver(OpenWrtStatusMixin, OpenWrtConfigMixin):
    name = "openwrt"
    capabilities = Capabilities(
        rollback_on_device=True,
        confirm_timeout=True,
        streams_events=False,
        reboot=True,
        partial_config=True,
    )
