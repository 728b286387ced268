"""Serving the app: on the configured address, with aiohttp's own access log switched off.

aiohttp's default access log writes the full request line (query string and path with its
ids included) and the client's address; ours (`web.access_log`) writes method, route template
and status only. Whoever runs the app — `start` here, a test server, `web.run_app` — must pass
`RUNNER_OPTIONS`, or personal data lands in the log.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from config.schema import Http

RUNNER_OPTIONS: Final[dict[str, Any]] = {"access_log": None}


async def start(app: web.Application, http: Http) -> web.AppRunner:
    """Start serving on http.host:http.port; stop with `await runner.cleanup()`."""
    runner = web.AppRunner(app, handle_signals=False, **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, http.host, http.port)
    await site.start()
    return runner
