"""Staff set their own status (available, away, do-not-disturb, serving a walk-in customer)."""

from __future__ import annotations

from aiohttp import web

from web.access import Access, Endpoint
from web.errors import not_found
from web.keys import SERVICES
from web.staff import schemas
from web.validation import read_json


async def set_status(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    staff_id = request.match_info["id"]
    body = await read_json(request, schemas.FIELDS, schemas.FIELDS)
    status = schemas.status(body)
    if services.settings.staff_by_id(staff_id) is None:
        raise not_found(f"there is no staff member with id {staff_id!r} in the configuration ([[staff]])")
    try:
        await services.presence.set_status(staff_id, status)
    except KeyError:
        raise not_found(f"there is no staff member with id {staff_id!r}") from None
    person = services.presence.current().get(staff_id)
    return web.json_response({"id": staff_id, "status": person.status.value, "state": person.public_state})


ENDPOINTS = (Endpoint("PUT", "/api/staff/{id}/status", set_status, Access.BACK_OFFICE, "staff.status"),)
