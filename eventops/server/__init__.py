"""The engine's HTTP API and web pages (aiohttp).

Other parts of eventops mount their routes on the same app and share its
authentication: pass ``extensions=[mount]`` to :func:`create_app`, where
``mount(app)`` adds routes whose handlers call :func:`require` (role check,
401/403 without detail) and read the engine from ``request.app[ENGINE]``.
"""

from eventops.server.app import create_app
from eventops.server.auth import ENGINE, View, current_user, json_response, require, view_of

__all__ = ["ENGINE", "View", "create_app", "current_user", "json_response", "require", "view_of"]
