"""Link-lab forwarder capacity against the kernel bridge, in one run.

    sudo python benchmarks/linklab_forwarder.py [--time 3]

At offered loads of 100, 200, 400 and 800 Mbit/s (iperf3 ``-u -l 1400``):

1. anchor: a lab link whose middle namespace is a kernel bridge;
2. the Python forwarder with 1 ms delay (every frame through the delay
   queue): delivered share, the ratio to the anchor, and the forwarder's own
   counts (release lateness, socket overflow and queue overload drops).

This tells the rates up to which the forwarder's delay figures are honest.
No unlimited offer and no real-time iperf3 here: an overloaded real-time
sender or forwarder would starve everything else on a shared machine.
The machine is shared: figures are noisy; the ratio is against the anchor
measured in the same run. Needs root (namespaces, tc, nft, ethtool).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from eventops_hardware.linklab import Impairment, Lab, LinkSpec, link_lab

SIZE = 1400


async def iperf3(lab: Lab, bitrate: str, seconds: float) -> dict[str, Any]:
    server = await lab.exec("b", "iperf3", "-s", "-1", "-p", "5299")
    try:
        for _ in range(100):
            if (await lab.run("b", "ss", "-Hltn", "sport = :5299")).strip():
                break
            await asyncio.sleep(0.05)
        out = await lab.run(
            "a", "iperf3", "-c", lab.addr_b, "-p", "5299", "-u",
            "-b", bitrate, "-l", str(SIZE), "-t", str(seconds), "-J",
        )  # fmt: skip
        end: dict[str, Any] = json.loads(out)["end"]
        return end
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()


def delivered_pps(end: dict[str, Any]) -> float:
    r = end["sum_received"]
    return float(r["bytes"]) / SIZE / float(r["seconds"])


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=3.0)
    args = ap.parse_args()
    t = args.time

    loads = (100, 200, 400, 800)
    anchor: dict[int, float] = {}
    async with link_lab(LinkSpec(name="bridge")) as lab:
        for mbit in loads:
            anchor[mbit] = delivered_pps(await iperf3(lab, f"{mbit}M", t))
            print(f"bridge    {mbit:4d} Mbit/s offered: {anchor[mbit]:9,.0f} pps delivered")
    spec = LinkSpec.symmetric("forwarder", impair=Impairment(delay_ms=1.0))
    async with link_lab(spec) as lab:
        assert lab.forwarder is not None
        for mbit in loads:
            await lab.forwarder.reset()
            end = await iperf3(lab, f"{mbit}M", t)
            st = (await lab.forwarder.stats())["a_to_b"]
            got = delivered_pps(end)
            print(
                f"forwarder {mbit:4d} Mbit/s offered: {got:9,.0f} pps delivered, "
                f"ratio to bridge {got / max(anchor[mbit], 1):.3f}; late mean "
                f"{st['late_mean_us']} us, max {st['late_max_us']} us, >0.5 ms late "
                f"{st['late_over_500us']:,} of {st['frames']:,}; drops: socket "
                f"{st['kernel_drops']:,}, queue {st['overload_drops']:,}"
            )


if __name__ == "__main__":
    asyncio.run(main())
