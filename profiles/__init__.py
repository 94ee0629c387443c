"""Example event profiles shipped with eventops (data only)."""
