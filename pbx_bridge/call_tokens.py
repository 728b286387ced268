"""Short-lived signed call tokens: the widget gets one from Tugi, the dialplan hands it back.

A token binds shop, target (a staff id or "team"), the page reference and an expiry, signed
with HMAC-SHA256 under `http.token_secret`. It holds no secret and no personal data, so it
may sit in a browser; without the key it cannot be forged or altered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

_REF = re.compile(r"^[A-Za-z0-9._:/#-]{0,64}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{10,400}\.[A-Za-z0-9_-]{43}$")


class TokenError(ValueError):
    """The token is missing, malformed, forged, for another shop, or expired."""


@dataclass(frozen=True)
class CallGrant:
    shop: str
    target: str          # staff id, or "team"
    page_ref: str
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CallTokens:
    def __init__(self, key: str, shop: str, lifetime: timedelta = timedelta(minutes=2)) -> None:
        self._key = hashlib.sha256(b"tugi-call-token\x00" + key.encode()).digest()
        self.shop = shop
        self.lifetime = lifetime

    def issue(self, target: str, page_ref: str, now: datetime) -> tuple[str, CallGrant]:
        if not _REF.match(target) or not target:
            raise TokenError(f"target {target!r} is not a staff id or 'team'")
        if not _REF.match(page_ref):
            raise TokenError("page_ref may only hold letters, digits and . _ : / # - (64 at most)")
        grant = CallGrant(self.shop, target, page_ref, now + self.lifetime, secrets.token_urlsafe(9))
        body = _b64(json.dumps(
            {"s": grant.shop, "t": grant.target, "p": grant.page_ref,
             "e": int(grant.expires_at.timestamp()), "n": grant.nonce},
            separators=(",", ":"),
        ).encode())
        return f"{body}.{self._sign(body)}", grant

    def verify(self, token: str, now: datetime) -> CallGrant:
        if not token or not TOKEN_PATTERN.match(token):
            raise TokenError("no call token, or not one Tugi issued")
        body, signature = token.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TokenError("call token signature does not match")
        try:
            data = json.loads(_unb64(body))
            expires = datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo)
            grant = CallGrant(str(data["s"]), str(data["t"]), str(data["p"]), expires, str(data["n"]))
        except (ValueError, KeyError, TypeError):
            raise TokenError("call token body is malformed") from None
        if grant.shop != self.shop:
            raise TokenError("call token is for another shop")
        if now >= grant.expires_at:
            raise TokenError("call token has expired")
        return grant

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())
