"""Origin checks and CORS headers for the widget's endpoints, from `http.allowed_origins`.

A browser sends `Origin` on every cross-origin request, on every POST and on every WebSocket
handshake, so those must carry an allowed one. A GET without `Origin` is a same-origin page or
a program, not a cross-site browser request, and is served without CORS headers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from aiohttp import hdrs, web

from web.errors import ApiError

PREFLIGHT_MAX_AGE = "600"


def normalise(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class OriginPolicy:
    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(normalise(o) for o in allowed if o.strip())

    def check(self, request: web.Request, *, websocket: bool = False) -> str | None:
        """The request's allowed Origin, or None when it has none and may go without; else 403."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:
            if request.method in ("GET", "HEAD") and not websocket:
                return None
            raise ApiError(403, "this endpoint is for the shop's web pages; the request has no Origin")
        if normalise(origin) not in self._allowed:
            raise ApiError(
                403,
                "this web page's origin is not allowed to use the widget API (http.allowed_origins)"
            )
        return origin

    @staticmethod
    def decorate(response: web.StreamResponse, origin: str) -> None:
        # error responses too: a browser hides a response without these from the page's script
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = "Retry-After"
        response.headers.add(hdrs.VARY, "Origin")

    @staticmethod
    def preflight(origin: str, methods: Collection[str]) -> web.Response:
        return web.Response(
            status=204,
            headers={
                hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(sorted(methods)),
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "Content-Type",
                hdrs.ACCESS_CONTROL_MAX_AGE: PREFLIGHT_MAX_AGE,
                hdrs.VARY: "Origin",
            },
        )
