"""Back-office call history: lists, one call, CSV export, a customer's timeline, statistics.

The store is synchronous (SQLAlchemy); each query runs in a worker thread so a slow report
never holds up the presence sockets or the widget on the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from history.export import calls_csv
from history.stats import call_stats
from web.access import Access, Endpoint
from web.calls import schemas
from web.errors import not_found
from web.keys import SERVICES
from web.validation import Query


async def list_calls(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    filters, limit, offset = schemas.list_query(request, services.settings)
    calls = await asyncio.to_thread(
        services.history.list_calls, **filters.store_kwargs(), limit=limit, offset=offset
    )
    return web.json_response({"calls": calls, "limit": limit, "offset": offset, "count": len(calls)})


async def get_call(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    include = Query(request, ("include_numbers",)).flag("include_numbers")
    call_id = int(request.match_info["id"])
    call = await asyncio.to_thread(services.history.get_call, call_id, include_numbers=include)
    if call is None:
        raise not_found(f"there is no call with id {call_id}")
    return web.json_response(call)


async def export_calls(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    filters = schemas.csv_query(request, services.settings)
    text = await asyncio.to_thread(calls_csv, services.history, **filters.store_kwargs())
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"', "Cache-Control": "no-store"},
    )


async def customer_timeline(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    customer = schemas.customer_id(request.match_info["id"])
    include, limit = schemas.timeline_query(request)
    known = await asyncio.to_thread(services.history.get_customer, customer)
    if known is None:
        raise not_found(f"there is no customer with id {customer}")
    items = await asyncio.to_thread(
        services.history.customer_timeline, customer, include_numbers=include, limit=limit
    )
    return web.json_response({"customer_id": customer, "erased": known["erased"], "interactions": items})


async def stats(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    query = schemas.stats_query(request, services.settings, services.clock())
    figures = await asyncio.to_thread(
        call_stats,
        services.history.engine,
        query.since,
        query.until,
        timezone=services.settings.shop.zone,
        answered_within=query.answered_within,
    )
    return web.json_response(figures)


ENDPOINTS = (
    Endpoint("GET", "/api/calls", list_calls, Access.BACK_OFFICE, "calls.list"),
    Endpoint("GET", "/api/calls.csv", export_calls, Access.BACK_OFFICE, "calls.csv"),
    Endpoint("GET", r"/api/calls/{id:\d{1,18}}", get_call, Access.BACK_OFFICE, "calls.get"),
    Endpoint("GET", "/api/customers/{id}/timeline", customer_timeline, Access.BACK_OFFICE, "customers.timeline"),
    Endpoint("GET", "/api/stats", stats, Access.BACK_OFFICE, "stats"),
)
