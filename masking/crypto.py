"""Real numbers at rest: sealed with AES-GCM, found again through a keyed blind index.

One configured secret yields two independent keys (HKDF with distinct `info`), so the index
key can never decrypt and the encryption key never shows up as a lookup value. The index is
deterministic on purpose: the store must find "the sessions of this caller" without holding
the caller's number; an HMAC keeps that lookup useless to anyone without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_LENGTH = 16
_VERSION = b"\x01"  # leading byte, so a future key rotation can tell old ciphertexts apart
_NONCE_BYTES = 12
_AAD = b"tugi/masking/number"


class UndecryptableNumber(Exception):
    """A stored number does not open with the configured key (changed key or damaged row)."""


def _derive(key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key.encode())


class NumberCipher:
    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
            raise ValueError(
                f"masking.encryption_key must be at least {MIN_KEY_LENGTH} characters; generate one with"
                " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        self._aead = AESGCM(_derive(key, b"tugi masking: number encryption v1"))
        self._index_key = _derive(key, b"tugi masking: number blind index v1")

    def encrypt(self, number: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, number.encode(), _AAD)

    def decrypt(self, sealed: bytes) -> str:
        if len(sealed) <= 1 + _NONCE_BYTES or sealed[:1] != _VERSION:
            raise UndecryptableNumber("stored number has an unknown format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _AAD).decode()
        except InvalidTag:
            raise UndecryptableNumber(
                "stored number does not decrypt: was masking.encryption_key changed?"
            ) from None

    def blind_index(self, number: str) -> str:
        return hmac.new(self._index_key, number.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "NumberCipher(<key hidden>)"
