"""How the history keeps phone numbers and addresses: encrypted, findable, shown masked.

The history only needs the small `NumberProtector` interface; the composition root may hand
it masking's cipher instead of `AesGcmProtector`, as long as both keep the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_LENGTH = 16
_VERSION = b"\x01"
_NONCE = 12
_AAD = b"tugi-history-number-v1"
_MASK = "•"


@runtime_checkable
class NumberProtector(Protocol):
    def encrypt(self, value: str) -> bytes: ...

    def decrypt(self, token: bytes) -> str: ...

    def blind_index(self, value: str) -> str: ...


class AesGcmProtector:
    """AES-256-GCM for storage and HMAC-SHA256 for lookup, both derived from one secret.

    Two keys are derived with HKDF so that the lookup index reveals nothing about the
    encryption key, and a leaked index table cannot be brute-forced without the secret.
    """

    def __init__(self, key: str) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(
                f"the number encryption key is {len(key)} characters long; use at least {MIN_KEY_LENGTH}"
                " random characters (masking.encryption_key in the configuration)"
            )
        secret = key.encode("utf-8")
        self._aead = AESGCM(_derive(secret, b"tugi history encryption"))
        self._index_key = _derive(secret, b"tugi history blind index")

    def encrypt(self, value: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode("utf-8"), _AAD)

    def decrypt(self, token: bytes) -> str:
        if token[:1] != _VERSION or len(token) < 1 + _NONCE + 16:
            raise ValueError("not a number encrypted by this version of Tugi")
        nonce, body = token[1 : 1 + _NONCE], token[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, body, _AAD).decode("utf-8")
        except InvalidTag:
            raise ValueError("cannot decrypt a stored number: wrong key or damaged data") from None

    def blind_index(self, value: str) -> str:
        return hmac.new(self._index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def mask_number(number: str) -> str:
    """'+37255512301' -> '+372•••••01': enough to recognise, too little to dial."""
    if len(number) >= 8:
        return number[:4] + _MASK * (len(number) - 6) + number[-2:]
    if len(number) > 2:
        return _MASK * (len(number) - 2) + number[-2:]
    return _MASK * len(number)


def normalise_contact(kind: str, value: str) -> str:
    """The form a contact value is indexed under, so lookups match however it was typed."""
    if kind == "phone":
        return "".join(value.split())
    if kind == "email":
        return value.strip().lower()
    raise ValueError(f"unknown contact kind {kind!r}: expected 'phone' or 'email'")
