"""Simulators of eventops' devices and services (installed as ``eventops_hardware``).

Each simulator is a real server on loopback that answers the device's own
wire protocol; faults and simulated time go through a separate control API.
"""
