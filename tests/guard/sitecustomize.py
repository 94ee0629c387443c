# Installs the test network guard in Python subprocesses started by tests.
import os

if os.environ.get("EVENTOPS_NETGUARD") == "1":
    import evo_netguard

    evo_netguard.install()
