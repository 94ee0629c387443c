"""eventops: the IT toolkit for large public events.

WLAN masts (OpenWrt ubus), mobile fibre links (RESTCONF/OpenConfig), link
proof (STAMP, UDP throughput, iperf3) and a moderated social wall, driven by
one engine with a terminal app and web pages as clients.
"""

__version__ = "0.1.0"
