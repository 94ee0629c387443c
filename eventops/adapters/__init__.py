"""Device adapters: one async interface, a driver per device family."""
