"""Typed application and request keys, in a module of their own so handlers need not import app.py."""

from __future__ import annotations

from aiohttp import web

from web.access import Access
from web.cors import OriginPolicy
from web.limits import PublicLimits
from web.presence.notifier import PresenceHub
from web.ratelimit import TokenBucketLimiter
from web.services import WebServices

SERVICES = web.AppKey("services", WebServices)
LIMITS = web.AppKey("limits", PublicLimits)
# route name -> who may call it; filled by app.py from each feature's endpoint table
ACCESS = web.AppKey("access", dict[str, Access])
PUBLIC_LIMITER = web.AppKey("public_limiter", TokenBucketLimiter)
CALLBACK_LIMITER = web.AppKey("callback_limiter", TokenBucketLimiter)  # per source address
NUMBER_LIMITER = web.AppKey("number_limiter", TokenBucketLimiter)  # per number called back
PRESENCE_HUB = web.AppKey("presence_hub", PresenceHub)
ORIGINS = web.AppKey("origins", OriginPolicy)
PRESENCE_SOCKETS = web.AppKey("presence_sockets", set[web.WebSocketResponse])

# the allowed Origin of a widget request, echoed in CORS headers on whatever response it gets
CORS_ORIGIN = web.RequestKey("cors_origin", str)
