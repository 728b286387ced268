"""The widget's two actions: get a short-lived call token (to call from the browser), ask for a call back.

A call token is all a browser needs besides the guest SIP account, whose password is public on
purpose: that endpoint reaches only the web-call context, which lets a call through only with
a valid token. A call back rings a phone and costs money, so it has its own, much stricter,
rate limit, per source address and per number called.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC

from aiohttp import hdrs, web

from pbx_bridge.call_tokens import TokenError
from web.access import Access, Endpoint
from web.contact import schemas
from web.errors import ApiError
from web.guard import source_of
from web.keys import CALLBACK_LIMITER, NUMBER_LIMITER, SERVICES
from web.validation import read_json

GUEST_USER = "tugi-web-guest"
NO_STORE = {"Cache-Control": "no-store"}
_NUMBER_KEY = secrets.token_bytes(32)


async def call_token(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if services.tokens is None:
        raise ApiError(503, "calls from the web page are not set up (http.token_secret)")
    body = await read_json(request, schemas.TOKEN_FIELDS, ("target",))
    target = schemas.target(body, services.settings) or schemas.TEAM
    page_ref = schemas.ref(body, "page_ref") or ""
    try:
        token, grant = services.tokens.issue(target, page_ref, services.clock())
    except TokenError as exc:
        field = "page_ref" if "page_ref" in str(exc) else "target"
        raise ApiError(400, f"{field}: {exc}", field) from None
    asterisk = services.settings.asterisk
    return web.json_response(
        {
            "token": token,
            "expires_at": grant.expires_at.astimezone(UTC).isoformat(),
            "sip": {
                "ws_url": f"ws://{asterisk.http_bind}:{asterisk.http_port}/ws",
                "user": GUEST_USER,
                "password": asterisk.web_guest_secret.get_secret_value(),
                "extension": target,
            },
        },
        headers=NO_STORE,
    )


async def request_callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if services.place_callback is None:
        raise ApiError(503, "Sorry, call backs are not available at the moment. Please call us instead.")
    body = await read_json(request, schemas.CALLBACK_FIELDS, ("number",))
    wanted = schemas.callback_request(body, services.settings, services.clock())
    # the limiter keeps the number only as a keyed hash: it is personal data, and a plain hash
    # of a phone number is undone by trying every number
    number_key = hmac.new(_NUMBER_KEY, wanted.number.encode(), hashlib.sha256).hexdigest()
    budgets = ((request.app[CALLBACK_LIMITER], source_of(request)), (request.app[NUMBER_LIMITER], number_key))
    for limiter, key in budgets:
        decision = limiter.take(key)
        if not decision.allowed:
            minutes = max(1, round(decision.retry_after / 60))
            wait = "a minute" if minutes == 1 else f"about {minutes} minutes"
            raise ApiError(
                429,
                f"We have already received several call-back requests; please wait {wait} and try again.",
                headers={hdrs.RETRY_AFTER: decision.retry_after_header},
            )
    extra = {} if wanted.preferred_time is None else {"preferred_time": wanted.preferred_time}
    callback_id = await services.place_callback(wanted.number, wanted.staff, wanted.page_ref, wanted.order_ref, **extra)
    return web.json_response({"id": callback_id}, status=202, headers=NO_STORE)


ENDPOINTS = (
    Endpoint("POST", "/api/public/call-token", call_token, Access.PUBLIC, "public.call_token"),
    Endpoint("POST", "/api/public/callback", request_callback, Access.PUBLIC, "public.callback"),
)
