"""One log line per request: method, route, status — no query string, no address, no body.

The route is logged as its template ("/api/calls/{id}"), not the concrete path: paths carry
customer ids and masking-session ids, which are personal data or capabilities. Serve the app
with aiohttp's own access log off (`web.server.start` does), since that one logs all of it.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from web.access import Handler

log = logging.getLogger("tugi.web.access")


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unknown path)"


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info(
            "%s %s %d %.1fms", request.method, route_template(request), status, (time.monotonic() - started) * 1000
        )
