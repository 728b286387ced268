"""GDPR erasure: forget a customer in the history and in every masked-call session at once.

Erasing twice is fine (the second time finds the customer already erased); a customer known
to neither store is a 404, since a typo in the id should not look like success.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from masking.errors import MaskingInputError
from web.access import Access, Endpoint
from web.errors import ApiError, not_found
from web.gdpr import schemas
from web.keys import SERVICES
from web.validation import read_json


async def erase_customer(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_json(request, schemas.FIELDS, schemas.FIELDS)
    customer = schemas.customer_id(body)
    in_history = await asyncio.to_thread(services.history.erase_customer, customer, at=services.clock())
    sessions = 0
    if services.masking is not None:
        try:
            sessions = await asyncio.to_thread(services.masking.erase_customer, customer)
        except MaskingInputError as exc:
            # masking allows fewer characters in a reference than the history does
            raise ApiError(400, f"customer_id: {exc.message}", "customer_id") from None
    if not in_history and not sessions:
        raise not_found(f"there is no customer with id {customer} in the history or in masked calls")
    return web.json_response(
        {"customer_id": customer, "history_erased": in_history, "masking_sessions_erased": sessions}
    )


ENDPOINTS = (Endpoint("POST", "/api/gdpr/erase", erase_customer, Access.BACK_OFFICE, "gdpr.erase"),)
