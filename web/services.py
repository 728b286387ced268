"""Everything the HTTP side uses, handed over by the composition root in one value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from config.schema import Settings
from history.store import HistoryStore
from masking.service import MaskingService
from pbx_bridge.call_tokens import CallTokens
from pbx_bridge.presence_feed import PresenceFeed


class PlaceCallback(Protocol):
    """Start a call back: ring `staff_id` (a staff id or "team"), then the customer; return its id.

    `customer_number` is E.164, already validated. `preferred_time` is passed, as a keyword,
    only when the customer chose a time (always within opening hours); an implementation that
    schedules nothing must still accept it, or a customer's chosen time would be ignored.
    """

    def __call__(
        self,
        customer_number: str,
        staff_id: str,
        page_ref: str | None,
        order_ref: str | None,
        /,
        *,
        preferred_time: datetime | None = None,
    ) -> Awaitable[str]: ...


@dataclass(frozen=True)
class WebServices:
    settings: Settings
    history: HistoryStore
    presence: PresenceFeed
    # None when masked calls are not configured (no pool or no encryption key): those endpoints answer 503.
    masking: MaskingService | None
    # None when http.token_secret is not set: the widget cannot get call tokens (503).
    tokens: CallTokens | None
    # None when call backs are not offered: the callback endpoint answers 503.
    place_callback: PlaceCallback | None
    clock: Callable[[], datetime]
