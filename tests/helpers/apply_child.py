"""Child process for the apply kill test: applies one device and freezes at "verifying".

argv: profile path, store path, lock folder, device id, confirm timeout in seconds.
When the apply reaches "verifying" for the device (committed, restore armed,
not yet confirmed) it prints ``verifying`` and blocks the whole process, so
the parent's SIGKILL lands exactly there.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from eventops.profile import load_profile
from eventops.provision.apply import ApplyOptions, ProgressEvent, Provisioner
from eventops.store import SQLiteStore


async def main(
    profile_path: str, store_path: str, lock_dir: str, device: str, confirm_s: str
) -> None:
    profile = load_profile(Path(profile_path))

    def progress(e: ProgressEvent) -> None:
        if e.device == device and e.phase == "verifying":
            print("verifying", flush=True)
            time.sleep(3600)  # frozen with the loop: the parent kills us here

    async with SQLiteStore(store_path) as store:
        prov = Provisioner(
            profile,
            store,
            lock_dir=Path(lock_dir),
            options=ApplyOptions(confirm_timeout_s=float(confirm_s), poll_s=0.05),
            progress=progress,
            secrets_base=Path(profile_path).parent,
        )
        await prov.apply([device], actor="kill-test")
    print("finished", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
