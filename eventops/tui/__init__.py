"""The terminal app (Textual), a client of the engine API."""
