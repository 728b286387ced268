"""Call-backs: ring the staff member first, then — once they answer — the customer.

`Originate` carries its own `ChannelId`, derived from the call-back's id, and a call-back is
originated at most once: a retry after a lost reply never rings anyone a second time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime

from config.schema import Settings
from pbx_bridge.ami_session import AmiDisconnected, AmiSession
from pbx_bridge.dialstrings import staff_channel
from pbx_bridge.route_handler import CallbackOrder
from routing.model import CallKind, CallRequest
from routing.planner import plan_call
from routing.presence import PresenceSnapshot

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class CallbackError(Exception):
    """The call-back cannot be placed; the message says why, in words for the customer."""


class CallbackPlacer:
    def __init__(
        self,
        settings: Settings,
        ami: AmiSession,
        orders: dict[str, CallbackOrder],
        presence: Callable[[], PresenceSnapshot],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.ami = ami
        self.orders = orders
        self.presence = presence
        self.clock = clock
        self._originated: set[str] = set()
        self._scheduled: set[asyncio.Task] = set()

    def choose_staff(self, requested: str | None) -> str:
        request = CallRequest(kind=CallKind.CALLBACK, requested_person=requested)
        plan = plan_call(request, self.clock(), self.presence(), self.settings)
        staff = plan.staff_rung
        if not staff:
            raise CallbackError("nobody in the shop is free to call you back right now; please try again later")
        return staff[0]

    async def request(
        self, customer_number: str, staff_id: str | None = None, page_ref: str | None = None,
        order_ref: str | None = None, /, *, preferred_time: datetime | None = None,
    ) -> str:
        """The widget's call-back: now, or at the customer's preferred time (kept in memory)."""
        if staff_id == "team":
            staff_id = None
        delay = (preferred_time - self.clock()).total_seconds() if preferred_time else 0.0
        if delay <= 1:
            return await self.place(customer_number, staff_id, page_ref, order_ref)
        callback_id = secrets.token_hex(8)

        async def later() -> None:
            await asyncio.sleep(delay)
            try:
                await self.place(customer_number, staff_id, page_ref, order_ref, callback_id)
            except CallbackError as exc:
                log.warning("scheduled call-back %s could not be placed: %s", callback_id, exc)

        self._scheduled.add(asyncio.create_task(later()))
        return callback_id

    async def place(
        self, customer_number: str, staff_id: str | None = None, page_ref: str | None = None,
        order_ref: str | None = None, callback_id: str | None = None,
    ) -> str:
        if not _E164.match(customer_number):
            raise CallbackError("the number is not in international format")
        person = self.settings.staff_by_id(self.choose_staff(staff_id))
        assert person is not None
        callback_id = callback_id or secrets.token_hex(8)
        if callback_id in self._originated:
            return callback_id
        self.orders[callback_id] = CallbackOrder(callback_id, customer_number, person.id, page_ref, order_ref)
        self._originated.add(callback_id)
        try:
            await self.ami.send({
                "Action": "Originate",
                "Channel": staff_channel(person.endpoint),
                "Context": "tugi-callback",
                "Exten": "s",
                "Priority": "1",
                "Timeout": str(self.settings.routing.team_ring_seconds * 1000),
                "CallerID": f"Call-back <{customer_number}>",
                "Variable": f"TUGI_CALLBACK={callback_id}",
                "ChannelId": f"tugi-cb-{callback_id}",
                "Async": "true",
            })
        except AmiDisconnected:
            # Sent or not, it is never sent again (the id stays in _originated); the caller hears
            # that it failed and may ask for a new call-back.
            raise CallbackError("the phone system is not reachable right now; please try again") from None
        log.info("call-back %s: ringing %s first", callback_id, person.id)
        return callback_id
