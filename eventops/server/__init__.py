"""The engine's HTTP API and web pages (aiohttp)."""
