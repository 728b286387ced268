"""Every error leaves as JSON: {"error": "..."} and, when a request field is to blame, "field".

Unexpected exceptions are logged by type and traceback only: an exception message may quote a
value from the request (a phone number, a name), and no personal data goes into a log line.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping

from aiohttp import web

from web.access import Handler

log = logging.getLogger("tugi.web")

_MESSAGES = {
    400: "the request is malformed",
    401: "an API token is required: send 'Authorization: Bearer <token>'",
    403: "this request is not allowed",
    404: "not found",
    405: "this method is not allowed here",
    413: "the request body is too large",
    415: "send the body as JSON with 'Content-Type: application/json'",
    429: "too many requests; try again later",
}


class ApiError(Exception):
    """An error meant for the client: a status, a message a person can act on, maybe a field."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, f"{field}: {message}", field)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def error_response(
    status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> web.Response:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.field, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, _MESSAGES.get(exc.status, exc.reason), headers=headers)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:
        route = request.match_info.route.resource
        where = route.canonical if route is not None else "(no route)"
        log.error(
            "web: %s %s failed with %s\n%s",
            request.method, where, type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)),
        )
        return error_response(500, "internal error; the shop's staff can find the details in Tugi's log")
