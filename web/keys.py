"""Typed application and request keys, in a module of their own so handlers need not import app.py."""

from __future__ import annotations

from aiohttp import web

from web.access import Access, Role
from web.limits import PublicLimits
from web.presence.notifier import PresenceHub
from web.ratelimit import TokenBucketLimiter
from web.services import WebServices

SERVICES = web.AppKey("services", WebServices)
LIMITS = web.AppKey("limits", PublicLimits)
# route name -> who may call it; filled by app.py from each feature's endpoint table
ACCESS = web.AppKey("access", dict[str, Access])
PUBLIC_LIMITER = web.AppKey("public_limiter", TokenBucketLimiter)
CALLBACK_LIMITER = web.AppKey("callback_limiter", TokenBucketLimiter)
PRESENCE_HUB = web.AppKey("presence_hub", PresenceHub)

ROLE = web.RequestKey("role", Role)
