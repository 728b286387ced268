"""Back-office API tokens: `Authorization: Bearer <token>` against `http.api_tokens`.

A token whose name starts with "courier:" (e.g. `"courier:dhl" = "…"`) belongs to a courier
company and opens only the courier view; every other named token is the shop's back office.
"""

from __future__ import annotations

import hmac

from config.schema import Http
from web.access import Role

COURIER_PREFIX = "courier:"


def role_for(http: Http, authorization: str | None) -> Role | None:
    """The role of the token in an Authorization header, or None when there is no valid one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    offered = token.encode("utf-8")
    found: str | None = None
    # Compare against every token, without stopping at a match, so timing says nothing of which
    for name, secret in http.api_tokens.items():
        if hmac.compare_digest(offered, secret.get_secret_value().encode("utf-8")):
            found = name
    if found is None:
        return None
    return Role.COURIER if found.startswith(COURIER_PREFIX) else Role.BACK_OFFICE
