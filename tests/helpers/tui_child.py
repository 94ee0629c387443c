"""Child process for the hang-up test: the terminal app, headless, following an engine.

argv: engine URL, token, config path. Prints ``connected`` once the app has its
live stream (and has loaded its views), then runs until the parent kills it —
a terminal app killed with SIGKILL, its connections dropped by the kernel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config


async def main(url: str, token: str, config: str) -> None:
    app = EventOpsApp(Api(url, token), load_config(Path(config)))
    run = asyncio.create_task(app.run_async(headless=True, size=(120, 40)))
    while not (app.ready and app.connected):
        if run.done():
            run.result()
            raise SystemExit("the app ended before it connected")
        await asyncio.sleep(0.05)
    print("connected", flush=True)
    await run


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
