"""Secrets may sit in the file or, better, in the environment: `secret = { env = "VAR" }`."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BeforeValidator, SecretStr


def resolve_secret(value: object) -> SecretStr:
    """Turn a config value into a secret, reading `{ env = "NAME" }` from the environment."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, dict):
        if set(value) != {"env"} or not isinstance(value["env"], str):
            raise ValueError('a secret is a string or { env = "VARIABLE_NAME" }')
        name = value["env"]
        found = os.environ.get(name)
        if not found:
            raise ValueError(f"environment variable {name} is not set (or is empty)")
        value = found
    if not isinstance(value, str):
        raise ValueError('a secret is a string or { env = "VARIABLE_NAME" }')
    if not value:
        raise ValueError("the secret is empty")
    if any(ch in value for ch in "\r\n\0;"):
        raise ValueError("a secret may not contain a line break, NUL or ';'")
    return SecretStr(value)


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
