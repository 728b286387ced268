"""The one place the HTTP side is wired: endpoints, middlewares, keys, the presence relay.

Middlewares, outermost first: the access log (sees the final status of everything), JSON
errors (turns every failure into {"error": …}), then the guard (token, or Origin and rate
limit, depending on the route's declared access).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from web.access import Access, Endpoint
from web.access_log import access_log
from web.calls.http import ENDPOINTS as CALLS
from web.contact.http import ENDPOINTS as CONTACT
from web.cors import OriginPolicy
from web.errors import json_errors
from web.gdpr.http import ENDPOINTS as GDPR
from web.guard import add_cors_headers, guard
from web.keys import (
    ACCESS,
    CALLBACK_LIMITER,
    LIMITS,
    NUMBER_LIMITER,
    ORIGINS,
    PRESENCE_HUB,
    PRESENCE_SOCKETS,
    PUBLIC_LIMITER,
    SERVICES,
)
from web.limits import PublicLimits
from web.masked.http import ENDPOINTS as MASKED
from web.openapi import ENDPOINTS as OPENAPI
from web.presence.http import ENDPOINTS as PRESENCE
from web.presence.http import close_sockets
from web.presence.notifier import PresenceHub
from web.ratelimit import TokenBucketLimiter
from web.services import WebServices
from web.staff.http import ENDPOINTS as STAFF

ENDPOINTS: tuple[Endpoint, ...] = (*CALLS, *MASKED, *GDPR, *STAFF, *PRESENCE, *CONTACT, *OPENAPI)

# the widget's script, demo page and staff photos, built into the package
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"

__all__ = ["ENDPOINTS", "SERVICES", "STATIC_DIR", "build_app"]


def build_app(
    services: WebServices, *, limits: PublicLimits | None = None, static_dir: Path | None = STATIC_DIR
) -> web.Application:
    """The whole HTTP side; `static_dir` (served under /static, no token) may be None to serve none."""
    limits = limits or PublicLimits()
    app = web.Application(middlewares=[access_log, json_errors, guard], client_max_size=limits.max_body_bytes)
    app[SERVICES] = services
    app[LIMITS] = limits
    app[ORIGINS] = OriginPolicy(services.settings.http.allowed_origins)

    def seconds() -> float:
        # the services' clock, so tests (and a paused clock) drive the buckets too
        return services.clock().timestamp()

    app[PUBLIC_LIMITER] = TokenBucketLimiter(limits.requests, seconds)
    app[CALLBACK_LIMITER] = TokenBucketLimiter(limits.callbacks, seconds)
    app[NUMBER_LIMITER] = TokenBucketLimiter(limits.callbacks_per_number, seconds)
    app[PRESENCE_HUB] = PresenceHub(services.settings, services.presence, services.clock, queue_size=limits.ws_queue)
    app[PRESENCE_SOCKETS] = set()

    access: dict[str, Access] = {}
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler, name=endpoint.name)
        access[endpoint.name] = endpoint.access
    if static_dir is not None and static_dir.is_dir():
        # pages embed the widget with a plain <script src>: no token, no Origin to check
        app.router.add_static(STATIC_PREFIX, static_dir, name="static")
        access["static"] = Access.OPEN
    app[ACCESS] = access

    app.on_response_prepare.append(add_cors_headers)
    app.cleanup_ctx.append(_presence_relay)
    app.on_shutdown.append(close_sockets)
    return app


async def _presence_relay(app: web.Application) -> AsyncIterator[None]:
    """Relay presence changes to the widget sockets for as long as the app runs."""
    hub = app[PRESENCE_HUB]
    hub.start()
    yield
    hub.stop()
