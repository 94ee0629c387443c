"""Approval → arrival at 500 wall screens, and the server's CPU, push vs. naive polling.

Starts the real server (engine + wall, SQLite store, demo profile) in a child
process, connects ``--clients`` display clients and approves ``--posts``
pending posts through the moderation API, one every ``--gap`` seconds.

- push (ours): every client holds the screens' SSE stream
  (``/wall/<event>/stream``); latency is from just before the approval
  request to the moment each client has read the ``post`` event.
- naive (anchor, measured in the same run): every client polls the
  moderation API (``GET /api/v1/wall/queue?state=approved``) once a second,
  as a page without a live stream would; latency is until the first poll
  that shows the post.

Prints p50/p99/max latency over every (post, client) pair, how many arrivals
were missed, and the server process's CPU seconds (user+system from
/proc) during each phase, with the ratios naive/push. Goal: p99 < 250 ms.
Client and server share this machine's cores, so the numbers are upper
bounds of what the server alone needs.

    .venv/bin/python benchmarks/wall_fanout.py [--clients 500] [--posts 20] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp

GOAL_MS = 250.0
ERRORS: list[str] = []
COMMS = {"Authorization": "Bearer demo-comms-token"}
REPO = Path(__file__).resolve().parent.parent


# -- the server (child process) ------------------------------------------------------------


async def serve(db: str, port: int, posts: int) -> None:
    from aiohttp import web

    from eventops.clock import SystemClock
    from eventops.engine import Engine
    from eventops.profile import load_profile
    from eventops.server.app import create_app
    from eventops.server.wall import wall_extension
    from eventops.store import SQLiteStore
    from eventops.store.models import DecisionRow, PostRow

    profile = load_profile(REPO / "profiles" / "demo.toml")
    clock = SystemClock()
    async with SQLiteStore(Path(db)) as store:
        now = clock.now()
        for i in range(posts):
            pid = f"replay:bench{i}"
            await store.upsert_posts(
                [
                    PostRow(
                        id=pid,
                        source="replay",
                        author=f"replay:user{i % 37}",
                        author_name=f"User {i % 37}",
                        text=f"Grüße vom Altstadtfest, Beitrag {i} 🎉",
                        created_at=now + timedelta(seconds=i),
                    )
                ]
            )
            await store.decide(
                DecisionRow(post_id=pid, ts=now, actor="rule:mode", action="queue"), "pending", None
            )
        engine = Engine(profile, store, clock=clock)
        await engine.start(poll=False)
        app = create_app(engine, extensions=[wall_extension(media_dir=None, heartbeat_s=5.0)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
        print("ready", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await engine.stop()


# -- the clients ---------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def push_client(
    http: aiohttp.ClientSession, url: str, arrivals: dict[str, float], ready: asyncio.Event
) -> None:
    """Stamp each ``post`` event when its bytes arrive (kept cheap: 500 of these share a core)."""
    buf = b""
    async with http.get(url) as resp:
        async for chunk in resp.content.iter_any():
            now = time.monotonic()
            buf += chunk
            *events, buf = buf.split(b"\n\n")
            for ev in events:
                if ev.startswith(b"event: post\n"):
                    pid = json.loads(ev.split(b"data: ", 1)[1])["id"]
                    arrivals.setdefault(pid, now)
                elif b"event: snapshot\n" in ev:
                    ready.set()


async def poll_client(
    http: aiohttp.ClientSession,
    url: str,
    arrivals: dict[str, float],
    offset: float,
    saw: Callable[[dict[str, float]], None],
) -> None:
    await asyncio.sleep(offset)  # spread the clients over the second, as real screens are
    while True:
        started = time.monotonic()
        try:
            async with http.get(url, headers=COMMS) as resp:
                rows = await resp.json()
            now = time.monotonic()
            before = len(arrivals)
            for r in rows:
                arrivals.setdefault(r["id"], now)
            if len(arrivals) != before:
                saw(arrivals)
        except Exception as exc:
            ERRORS.append(f"{type(exc).__name__}: {exc}"[:200])
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def approve_all(
    http: aiohttp.ClientSession, base: str, ids: list[str], gap: float
) -> dict[str, float]:
    sent: dict[str, float] = {}
    for pid in ids:
        sent[pid] = time.monotonic()
        async with http.post(
            f"{base}/api/v1/wall/posts/{pid}/decisions",
            headers=COMMS,
            json={"action": "approve"},
        ) as resp:
            if resp.status != 201:
                raise SystemExit(f"approve {pid}: HTTP {resp.status} {await resp.text()}")
        await asyncio.sleep(gap)
    return sent


async def undo_all(http: aiohttp.ClientSession, base: str, ids: list[str]) -> None:
    for pid in ids:
        async with http.get(f"{base}/api/v1/wall/posts/{pid}", headers=COMMS) as resp:
            last = (await resp.json())["decisions"][-1]["id"]
        async with http.post(
            f"{base}/api/v1/wall/decisions/{last}/undo", headers=COMMS, json={}
        ) as resp:
            assert resp.status == 201, await resp.text()


def summarise(
    name: str, sent: dict[str, float], arrivals: list[dict[str, float]]
) -> tuple[list[float], int]:
    lat: list[float] = []
    missed = 0
    for got in arrivals:
        for pid, t0 in sent.items():
            if pid in got:
                lat.append((got[pid] - t0) * 1000)
            else:
                missed += 1
    return lat, missed


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="evo-bench-") as tmp:
        port = args.port
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            f"{tmp}/bench.sqlite3",
            str(port),
            str(2 * args.posts),
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = await proc.stdout.readline()
            if line.strip() != b"ready":
                raise SystemExit("server did not start")
            base = f"http://127.0.0.1:{port}"
            ids = [f"replay:bench{i}" for i in range(2 * args.posts)]
            conn = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
            async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
                # -- push -------------------------------------------------------
                push_arrivals = [dict[str, float]() for _ in range(args.clients)]
                readies = [asyncio.Event() for _ in range(args.clients)]
                tasks = [
                    asyncio.create_task(push_client(http, f"{base}/wall/demo/stream", a, r))
                    for a, r in zip(push_arrivals, readies, strict=True)
                ]
                await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
                await asyncio.sleep(1.0)
                cpu0, t0 = cpu_s(proc.pid), time.monotonic()
                sent = await approve_all(http, base, ids[: args.posts], args.gap)
                await asyncio.sleep(1.0)
                push_cpu, push_wall = cpu_s(proc.pid) - cpu0, time.monotonic() - t0
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                push_lat, push_missed = summarise("push", sent, push_arrivals)

                # -- naive polling ---------------------------------------------
                poll_arrivals = [dict[str, float]() for _ in range(args.clients)]
                url = f"{base}/api/v1/wall/queue?state=approved&limit=20"
                expected = set(ids[args.posts :])
                complete = asyncio.Event()
                finished: list[int] = []

                def saw(arrivals: dict[str, float]) -> None:
                    if expected <= arrivals.keys():
                        finished.append(1)
                        if len(finished) == args.clients:
                            complete.set()

                tasks = [
                    asyncio.create_task(poll_client(http, url, a, i / args.clients, saw))
                    for i, a in enumerate(poll_arrivals)
                ]
                await asyncio.sleep(2.0)
                cpu0, t0 = cpu_s(proc.pid), time.monotonic()
                sent2 = await approve_all(http, base, ids[args.posts :], args.gap)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(complete.wait(), 30.0)
                poll_cpu, poll_wall = cpu_s(proc.pid) - cpu0, time.monotonic() - t0
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                poll_lat, poll_missed = summarise("poll", sent2, poll_arrivals)
        finally:
            proc.terminate()
            await proc.wait()

    def line(name: str, lat: list[float], missed: int, cpu: float, wall: float) -> None:
        print(
            f"{name:<22} p50 {pct(lat, 50):8.1f} ms  p99 {pct(lat, 99):8.1f} ms  "
            f"max {max(lat) if lat else float('nan'):8.1f} ms  missed {missed:5d}  "
            f"server CPU {cpu:6.2f} s over {wall:5.1f} s ({100 * cpu / wall:5.1f}% of a core)"
        )

    n = args.clients
    if ERRORS:
        print(f"{len(ERRORS)} failed polls, e.g. {ERRORS[0]}")
    print(f"{n} display clients, {args.posts} approvals per phase, one every {args.gap} s")
    line("push (SSE, ours)", push_lat, push_missed, push_cpu, push_wall)
    line("naive poll 1/s", poll_lat, poll_missed, poll_cpu, poll_wall)
    p99 = pct(push_lat, 99)
    print(
        f"ratio naive/push: p99 latency {pct(poll_lat, 99) / p99:.1f}x, "
        f"server CPU per second {(poll_cpu / poll_wall) / max(push_cpu / push_wall, 1e-9):.1f}x"
    )
    verdict = "met" if p99 < GOAL_MS and push_missed == 0 else "NOT met"
    print(f"goal p99 < {GOAL_MS:.0f} ms at every client: {verdict} (p99 {p99:.1f} ms)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--posts", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.5)
    ap.add_argument("--port", type=int, default=18499)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
