"""The engine API's one contract: models, the SSE codec, the route table, the client.

Server and every client (TUI, CLI ``--server``, probe remote) share these
modules, so a renamed field is a failing contract test, never a silent default.
"""
