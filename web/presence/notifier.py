"""Presence changes out to every open widget socket: one listener on PresenceFeed, a queue per socket.

The listener runs inside PresenceFeed's update (on the AMI event path), so it never waits on a
client: it drops a message into each socket's bounded queue and returns. A socket whose queue
fills up (a client that stopped reading) loses its backlog and gets one fresh snapshot instead,
which says the same thing in fewer messages. Only changes of the public state are sent: a
phone going from idle to ringing-while-busy is not the widget's business.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from config.schema import Settings
from pbx_bridge.presence_feed import PresenceFeed
from routing.presence import PersonPresence
from web.presence.schemas import change, full_presence, public_states

RESYNC: Final = object()  # queued instead of the backlog: "send a whole snapshot"


class Subscriber:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[str | object] = asyncio.Queue(maxsize=queue_size)

    def offer(self, message: str) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class PresenceHub:
    def __init__(
        self, settings: Settings, feed: PresenceFeed, clock: Callable[[], datetime], *, queue_size: int = 64
    ) -> None:
        self._settings = settings
        self._feed = feed
        self._clock = clock
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._sent: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False

    def start(self) -> None:
        """Begin relaying; called on app startup, in the loop that serves the sockets."""
        self._loop = asyncio.get_running_loop()
        self._sent = public_states(self._settings, self._feed.current())
        if not self._listening:
            # PresenceFeed has no way to remove a listener, so register once and go quiet on stop
            self._feed.listen(self.on_presence)
            self._listening = True

    def stop(self) -> None:
        self._loop = None
        self._subscribers.clear()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def __len__(self) -> int:
        return len(self._subscribers)

    def snapshot(self) -> dict[str, Any]:
        states = public_states(self._settings, self._feed.current())
        return full_presence(self._settings, states, self._clock())

    def snapshot_message(self) -> str:
        return json.dumps({"type": "presence", **self.snapshot()})

    def on_presence(self, staff_id: str, person: PersonPresence) -> None:
        """PresenceFeed listener; may be called from another thread than the sockets' loop."""
        loop = self._loop
        if loop is None:
            return
        state = person.public_state
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._publish(staff_id, state)
        else:
            loop.call_soon_threadsafe(self._publish, staff_id, state)

    def _publish(self, staff_id: str, state: str) -> None:
        staff = self._settings.staff_by_id(staff_id)
        if staff is None or self._sent.get(staff_id) == state:
            return
        self._sent[staff_id] = state
        message = json.dumps(change(self._settings, staff, self._sent, self._clock()))
        for subscriber in list(self._subscribers):
            subscriber.offer(message)
