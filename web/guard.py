"""The access middleware: tokens for the back office and couriers, Origin and rate limit for the widget.

Which check applies comes from the route's declared `Access`; a request that matches no
route is judged by its path, so an unknown back-office URL still asks for a token first.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from web.access import PUBLIC_PREFIX, Access, Handler, Role
from web.auth import role_for
from web.cors import OriginPolicy
from web.errors import ApiError
from web.keys import ACCESS, CORS_ORIGIN, ORIGINS, PUBLIC_LIMITER, SERVICES


def access_of(request: web.Request) -> Access:
    name = request.match_info.route.name
    declared = request.app[ACCESS].get(name) if name else None
    if declared is not None:
        return declared
    return Access.PUBLIC if request.path.startswith(PUBLIC_PREFIX) else Access.BACK_OFFICE


def is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def source_of(request: web.Request) -> str:
    # The peer address. Behind a reverse proxy every client shares the proxy's address; trusting
    # X-Forwarded-For would need the proxy's address in the config, which the schema lacks.
    return request.remote or "unknown"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    access = access_of(request)
    if access is Access.OPEN:
        return await handler(request)
    if access is Access.PUBLIC:
        return await _public(request, handler)
    role = role_for(request.app[SERVICES].settings.http, request.headers.get(hdrs.AUTHORIZATION))
    if role is None:
        raise ApiError(
            401,
            "a valid API token is required: send 'Authorization: Bearer <token>' (http.api_tokens)",
            headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="tugi"'},
        )
    if role is Role.COURIER and access is not Access.COURIER:
        raise ApiError(403, "a courier token opens only the courier view (/api/courier/sessions/{id})")
    return await handler(request)


async def _public(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.app[ORIGINS].check(request, websocket=is_websocket(request))
    if origin is not None:
        request[CORS_ORIGIN] = origin
    decision = request.app[PUBLIC_LIMITER].take(source_of(request))
    if not decision.allowed:
        raise ApiError(
            429,
            f"too many requests; try again in {decision.retry_after_header} seconds",
            headers={hdrs.RETRY_AFTER: decision.retry_after_header},
        )
    if request.method == hdrs.METH_OPTIONS and origin is not None:
        problem = request.match_info.http_exception
        if isinstance(problem, web.HTTPMethodNotAllowed):
            return OriginPolicy.preflight(origin, problem.allowed_methods)
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response to an allowed widget origin, errors included."""
    origin = request.get(CORS_ORIGIN)
    if origin is not None and hdrs.ACCESS_CONTROL_ALLOW_ORIGIN not in response.headers:
        OriginPolicy.decorate(response, origin)
