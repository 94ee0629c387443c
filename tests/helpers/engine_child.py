"""Child process: an engine serving a profile, with a short confirm timeout for its applies.

``python -m tests.helpers.engine_child PROFILE STORE CONFIRM_S`` builds the engine as
``eventops serve`` does (:func:`eventops.engine.build_engine`, the server app managing
it, the profile's ``server.listen``), except that applies through its API use a
confirm timeout of CONFIRM_S seconds. Prints ``serving URL`` once it answers, runs
until SIGTERM (a clean stop) or SIGKILL (the crash the tests are about).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from eventops.engine import build_engine
from eventops.profile import load_profile
from eventops.provision.apply import ApplyOptions
from eventops.server.app import create_app
from eventops.store import open_store


async def main(profile_path: str, store_path: str, confirm_s: str) -> None:
    path = Path(profile_path)
    profile = load_profile(path)
    host, _, port = profile.server.listen.rpartition(":")
    timeout = float(confirm_s)
    async with open_store(Path(store_path), profile) as store:
        engine = build_engine(
            profile,
            store,
            store_path=Path(store_path),
            profile_path=path,
            apply_options=ApplyOptions(confirm_timeout_s=timeout, poll_s=min(1.0, timeout / 10)),
        )
        runner = web.AppRunner(create_app(engine, manage_engine=True), handle_signals=False)
        await runner.setup()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await web.TCPSite(runner, host, int(port)).start()
            print(f"serving http://{host}:{port}", flush=True)
            await stop.wait()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
