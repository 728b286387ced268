"""Who may call an endpoint: each route is declared with one `Access`, checked by `web.guard`.

Declaring it next to the handler (rather than deriving it from the URL) keeps the rule in one
place; anything not declared — an unknown path, say — is treated as back office, so a
mistake refuses access instead of opening it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC_PREFIX = "/api/public/"


class Access(StrEnum):
    BACK_OFFICE = "back_office"  # a back-office API token
    COURIER = "courier"          # a courier token ("courier:…") or a back-office token
    PUBLIC = "public"            # no token: Origin-checked and rate-limited (the widget)
    OPEN = "open"                # no token, no checks: the API description only


class Role(StrEnum):
    BACK_OFFICE = "back_office"
    COURIER = "courier"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    access: Access
    name: str
