"""What masking refuses to do, in terms the API can map to a status and a person can act on."""

from __future__ import annotations


class MaskingError(Exception):
    """Base of every masking failure the caller of the service is expected to handle."""


class MaskingInputError(MaskingError, ValueError):
    """A request field is wrong; `field` names it so the API can point at it (400/422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SessionNotFound(MaskingError, LookupError):
    """No such live session. Unknown and closed look the same, so ids cannot be probed (404)."""

    def __init__(self, session_id: str) -> None:
        super().__init__("no live masking session with this id")
        self.session_id = session_id


class PoolExhausted(MaskingError):
    """No proxy number can serve this pair right now (409)."""

    DEFAULT = "proxy-number pool exhausted and single-number mode is disabled"

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)
        self.message = message
