"""The one place the engine and its services are wired together.

``eventops serve``, ``eventops demo`` and every CLI command that runs an
engine in-process call :func:`build_engine`; the server mounts the routes of
whatever services the engine it is given carries.
"""

from __future__ import annotations

from pathlib import Path

from eventops.adapters.base import DriverFactory
from eventops.clock import Clock
from eventops.engine.monitoring import Engine
from eventops.engine.provisioning import ProvisionService
from eventops.engine.wall import WallService
from eventops.profile.models import Profile
from eventops.provision.apply import ApplyOptions
from eventops.provision.lock import lock_dir_for
from eventops.store.base import Store
from eventops.wall.media import default_media_dir


def build_engine(
    profile: Profile,
    store: Store,
    *,
    store_path: Path | None = None,
    profile_path: Path | None = None,
    clock: Clock | None = None,
    driver_factory: DriverFactory | None = None,
    stagger: bool = False,
    watch_site_locks: bool = True,
    provisioning: bool = True,
    apply_options: ApplyOptions | None = None,
    provision_driver_factory: DriverFactory | None = None,
    wall: bool = True,
    run_sources: bool = False,
    wall_hub_poll_s: float = 1.0,
    retention_every_s: float = 3600.0,
) -> Engine:
    """An engine for ``profile`` with its services, not yet started.

    ``store_path`` (the SQLite file) places the provisioning site locks and
    the wall's media cache next to the store; without it the engine cannot
    apply and the wall caches no pictures. ``watch_site_locks``: devices of a
    site under an apply from another process go into maintenance.
    ``run_sources``: the wall reads the profile's sources (X, Mastodon, replay).
    """
    lock_dir = lock_dir_for(store_path) if store_path is not None else None
    base = profile_path.absolute().parent if profile_path is not None else None
    engine = Engine(
        profile,
        store,
        clock=clock,
        driver_factory=driver_factory,
        profile_path=profile_path,
        stagger=stagger,
        lock_dir=lock_dir if watch_site_locks else None,
    )
    if provisioning:
        engine.provision = ProvisionService(
            engine,
            lock_dir=lock_dir,
            options=apply_options,
            driver_factory=provision_driver_factory,
            secrets_base=base,
        )
    if wall:
        engine.wall = WallService(
            engine,
            media_dir=default_media_dir(store_path) if store_path is not None else None,
            run_sources=run_sources,
            profile_dir=base,
            hub_poll_s=wall_hub_poll_s,
            retention_every_s=retention_every_s,
        )
    return engine
