"""Serving the app: on the configured address, with aiohttp's own access log switched off.

aiohttp's default access log writes the full request line (query string included) and the
client's address; ours (`web.access_log`) writes method, route and status only.
"""

from __future__ import annotations

from aiohttp import web

from config.schema import Http


async def start(app: web.Application, http: Http) -> web.AppRunner:
    """Start serving; stop with `await runner.cleanup()`."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, http.host, http.port)
    await site.start()
    return runner
