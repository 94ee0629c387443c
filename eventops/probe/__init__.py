"""Packet probe: UDP throughput, STAMP, iperf3 client."""
