"""Presence from Asterisk: device states and phone registrations, plus what staff set themselves.

Keeps the current `PresenceSnapshot` for routing and tells listeners (the presence WebSocket)
about every change of a person's public state. After each AMI login the whole picture is
re-read (`DeviceStateList`, `PJSIPShowContacts`), because events during an outage are gone.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from config.schema import Settings
from pbx_bridge.ami_session import AmiError, AmiSession
from routing.presence import (
    PersonPresence,
    PresenceSnapshot,
    SelfStatus,
    apply_device_state,
    apply_registration,
    apply_self_status,
)

log = logging.getLogger(__name__)

_UNREGISTERED = ("UNAVAILABLE", "INVALID", "Unavailable", "Invalid")
PRESENCE_EVENTS = frozenset({"DeviceStateChange", "ContactStatus"})

Listener = Callable[[str, PersonPresence], Awaitable[None] | None]


class PresenceFeed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._by_endpoint = {p.endpoint: p.id for p in settings.staff}
        self.snapshot = PresenceSnapshot(PersonPresence(p.id) for p in settings.staff)
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def current(self) -> PresenceSnapshot:
        return self.snapshot

    async def resync(self, session: AmiSession) -> None:
        # A PJSIP device with no registered contact is UNAVAILABLE, so the device states alone
        # also tell who is registered; Tugi's AMI user needs no `system` privilege for it.
        try:
            states = await session.send_list({"Action": "DeviceStateList"})
        except AmiError as exc:
            log.warning("presence: resync failed: %s", exc)
            return
        for item in states:
            await self.on_event(item)

    async def on_event(self, event: Mapping[str, Any]) -> None:
        name = event.get("Event", "")
        if name in ("DeviceStateChange", "DeviceStateListItem") or (name == "" and "Device" in event):
            device = event.get("Device", "")
            if device.startswith("PJSIP/"):
                staff_id = self._by_endpoint.get(device[6:])
                if staff_id:
                    state = event.get("State", "UNKNOWN")
                    await self._update(apply_registration, staff_id, state not in _UNREGISTERED)
                    await self._update(apply_device_state, staff_id, state)
        elif name == "ContactStatus":
            staff_id = self._by_endpoint.get(event.get("AOR", ""))
            if staff_id:
                status = event.get("ContactStatus", "")
                await self._update(apply_registration, staff_id, status not in ("Removed", "Unreachable"))

    async def set_status(self, staff_id: str, status: SelfStatus | str) -> None:
        if staff_id not in self.snapshot:
            raise KeyError(staff_id)
        await self._update(apply_self_status, staff_id, status)

    async def _update(self, change: Callable, staff_id: str, value: object) -> None:
        before = self.snapshot.get(staff_id)
        self.snapshot = change(self.snapshot, staff_id, value)
        after = self.snapshot.get(staff_id)
        if after != before:
            for listener in self._listeners:
                result = listener(staff_id, after)
                if inspect.isawaitable(result):
                    await result
