"""Masked calls over HTTP: the back office opens, reads and closes sessions; couriers read theirs.

Masking refuses with its own errors; they map to 400 (naming the field), 404 and 409 here.
An unknown, closed or expired session id all answer 404 alike: masking does not tell them
apart to anyone, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from masking.errors import MaskingInputError, PoolExhausted, SessionNotFound
from masking.service import MaskingService
from web.access import Access, Endpoint
from web.errors import ApiError
from web.keys import SERVICES
from web.masked import schemas
from web.validation import Query, read_json

T = TypeVar("T")
NOT_FOUND = "there is no live masked-call session with this id (it may have been closed or have expired)"


def _masking(request: web.Request) -> MaskingService:
    masking = request.app[SERVICES].masking
    if masking is None:
        raise ApiError(503, "masked calls are not set up: configure masking.pool and masking.encryption_key")
    return masking


async def _call(work: Callable[[], T]) -> T:
    """Run a masking call in a worker thread (its store does blocking I/O) and map its errors."""
    try:
        return await asyncio.to_thread(work)
    except MaskingInputError as exc:
        field = schemas.FIELD_NAMES.get(exc.field, exc.field)
        raise ApiError(400, f"{field}: {exc.message}", field) from None
    except SessionNotFound:
        raise ApiError(404, NOT_FOUND) from None
    except PoolExhausted as exc:
        raise ApiError(409, exc.message) from None


def _include_numbers(request: web.Request) -> bool:
    return Query(request, ("include_numbers",)).flag("include_numbers")


async def create_session(request: web.Request) -> web.Response:
    masking = _masking(request)
    body = await read_json(request, schemas.CREATE_FIELDS, schemas.CREATE_REQUIRED)
    arguments = schemas.create_arguments(body)
    session = await _call(lambda: masking.open_session(**arguments))
    return web.json_response(
        schemas.created(session), status=201, headers={"Location": f"/api/masking/sessions/{session.id}"}
    )


async def get_session(request: web.Request) -> web.Response:
    masking = _masking(request)
    include = _include_numbers(request)
    session = await _call(lambda: masking.get(request.match_info["id"]))
    now = request.app[SERVICES].clock()
    return web.json_response(schemas.back_office_view(session, now, include))


async def close_session(request: web.Request) -> web.Response:
    masking = _masking(request)
    session = await _call(lambda: masking.close(request.match_info["id"]))
    now = request.app[SERVICES].clock()
    return web.json_response(schemas.back_office_view(session, now, include_numbers=False))


async def order_sessions(request: web.Request) -> web.Response:
    masking = _masking(request)
    include = _include_numbers(request)
    order_ref = request.match_info["order_ref"]
    sessions = await _call(lambda: masking.sessions_for_order(order_ref))
    now = request.app[SERVICES].clock()
    return web.json_response(
        {"order_ref": order_ref, "sessions": [schemas.back_office_view(s, now, include) for s in sessions]}
    )


async def courier_session(request: web.Request) -> web.Response:
    masking = _masking(request)
    Query(request, ())
    session = await _call(lambda: masking.get(request.match_info["id"]))
    now = request.app[SERVICES].clock()
    return web.json_response(schemas.courier_view(session, now))


ENDPOINTS = (
    Endpoint("POST", "/api/masking/sessions", create_session, Access.BACK_OFFICE, "masking.create"),
    Endpoint("GET", "/api/masking/sessions/{id}", get_session, Access.BACK_OFFICE, "masking.get"),
    Endpoint("POST", "/api/masking/sessions/{id}/close", close_session, Access.BACK_OFFICE, "masking.close"),
    Endpoint("DELETE", "/api/masking/sessions/{id}", close_session, Access.BACK_OFFICE, "masking.delete"),
    Endpoint(
        "GET", "/api/orders/{order_ref}/masking-sessions", order_sessions, Access.BACK_OFFICE, "masking.for_order"
    ),
    Endpoint("GET", "/api/courier/sessions/{id}", courier_session, Access.COURIER, "courier.session"),
)
