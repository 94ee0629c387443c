"""How long the site map takes to lay out, for the city festival and a synthetic big site.

The TUI's ``:map`` rebuilds its scene and canvas whenever a device or link
changes (at most once per refresh tick); the status page renders the SVG per
request. Prints absolute figures and ratios against an anchor measured in the
same run: the time to build the scene alone for the same devices (so the
ratio says what the projection, lines and labels add on top of reading the
views), for an 80×24 and a 200×60 canvas, and for the SVG.

Run: ``python benchmarks/sitemap_layout.py [--masts 500] [--rounds 50]``
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

from eventops.api.models import DeviceView, LinkView
from eventops.profile import load_profile
from eventops.sitemap import layout_cells, render_svg, scene

REPO = Path(__file__).resolve().parents[1]


def views_of_profile(name: str) -> tuple[list[DeviceView], list[LinkView]]:
    p = load_profile(REPO / "profiles" / name)
    devices = [
        DeviceView.model_validate(
            {
                "id": d.id,
                "kind": getattr(d, "kind", "mast"),
                "reachable": True,
                "health": "ok",
                "location": d.location.model_dump(),
            }
        )
        for d in p.devices
    ]
    loc = {d.id: d.location for d in p.devices}
    links = [
        LinkView.model_validate(
            {
                "id": lk.id,
                "name": lk.name,
                "state": "up",
                "a": {
                    "device": lk.a.device,
                    "port": lk.a.port,
                    "lat": loc[lk.a.device].lat,
                    "lon": loc[lk.a.device].lon,
                },
                "b": {
                    "device": lk.b.device,
                    "port": lk.b.port,
                    "lat": loc[lk.b.device].lat,
                    "lon": loc[lk.b.device].lon,
                },
            }
        )
        for lk in p.links
    ]
    return devices, links


def synthetic(masts: int) -> tuple[list[DeviceView], list[LinkView]]:
    rnd = random.Random(7)
    devices = [
        DeviceView.model_validate(
            {
                "id": f"mast-{i:03d}",
                "kind": "mast",
                "reachable": rnd.random() > 0.05,
                "health": "ok",
                "location": {
                    "lat": 49.48 + rnd.random() * 0.02,
                    "lon": 8.46 + rnd.random() * 0.03,
                    "description": f"Standort {i}",
                },
            }
        )
        for i in range(masts)
    ]
    links = []
    for i in range(0, masts - 1, 10):
        a, b = devices[i], devices[i + 1]
        assert a.location is not None and b.location is not None
        links.append(
            LinkView.model_validate(
                {
                    "id": f"fibre-{i}",
                    "name": f"fibre {i}",
                    "state": "up",
                    "a": {
                        "device": a.id,
                        "port": "p",
                        **a.location.model_dump(exclude={"description"}),
                    },
                    "b": {
                        "device": b.id,
                        "port": "p",
                        **b.location.model_dump(exclude={"description"}),
                    },
                }
            )
        )
    return devices, links


def per_call(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - t0) / rounds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--masts", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    for label, (devices, links) in (
        ("city-festival", views_of_profile("city-festival.toml")),
        (f"synthetic {args.masts} masts", synthetic(args.masts)),
    ):
        anchor = per_call(lambda d=devices, lk=links: scene(d, lk), args.rounds)
        sc = scene(devices, links)
        small = per_call(lambda s=sc: layout_cells(s, 78, 17), args.rounds)
        big = per_call(lambda s=sc: layout_cells(s, 198, 53), args.rounds)
        svg = per_call(lambda s=sc: render_svg(s), args.rounds)
        print(
            f"{label}: {len(sc.nodes)} placed, {len(sc.edges)} links; "
            f"scene {anchor * 1e3:.2f} ms (anchor); "
            f"80x24 canvas {small * 1e3:.2f} ms = {small / anchor:.1f}x; "
            f"200x60 canvas {big * 1e3:.2f} ms = {big / anchor:.1f}x; "
            f"svg {svg * 1e3:.2f} ms = {svg / anchor:.1f}x ({len(render_svg(sc)) // 1024} KiB)"
        )


if __name__ == "__main__":
    main()
