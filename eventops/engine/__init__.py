"""The engine: one per event; owns the store, the services and their tasks.

- :mod:`~eventops.engine.monitoring`  :class:`Engine`: pollers, checks, alerts, bus, views
- :mod:`~eventops.engine.provisioning` plan / apply / rollback inside the engine
- :mod:`~eventops.engine.probing`     STAMP, throughput and acceptance runs
- :mod:`~eventops.engine.wall`        the social wall's hub, pipeline and retention
- :mod:`~eventops.engine.supervisor`  restarts a task that dies; counts and alerts it
- :mod:`~eventops.engine.build`       :func:`build_engine`, the one wiring

Everything here raises domain errors (:mod:`eventops.errors`); only
:mod:`eventops.server` knows HTTP.
"""

from __future__ import annotations

from eventops.engine.build import build_engine
from eventops.engine.monitoring import ENGINE_SUBJECT, Engine, default_driver_factory
from eventops.engine.state import (
    DeviceState,
    LinkState,
    alert_view,
    device_kind,
    probe_throughput_mbps,
)
from eventops.provision.lock import held_sites as held_site_locks

__all__ = [
    "ENGINE_SUBJECT",
    "DeviceState",
    "Engine",
    "LinkState",
    "alert_view",
    "build_engine",
    "default_driver_factory",
    "device_kind",
    "held_site_locks",
    "probe_throughput_mbps",
]
