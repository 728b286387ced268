"""Presence changes out to every open widget socket: one listener on PresenceFeed, one relay task.

The listener runs inside PresenceFeed's update (on the AMI event path), so it never waits on a
client: it serialises the change once and hands it to the hub's relay task. The relay writes it
straight to every socket that can take it without waiting — a plain loop, no task or queue per
socket per change, which is what keeps 10,000 sockets fast (bench/presence_fanout.py). A socket whose
send buffer is backed up gets the change in its own bounded queue instead, drained by its own
pump; one whose queue fills up (a client that stopped reading) loses its backlog and gets one
fresh snapshot instead, which says the same thing in fewer messages. Only changes of the public
state are sent: a phone going from idle to ringing-while-busy is not the widget's business.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from config.schema import Settings
from pbx_bridge.presence_feed import PresenceFeed
from routing.presence import PersonPresence
from web.presence.schemas import change, full_presence, public_states

log = logging.getLogger(__name__)

RESYNC: Final = object()  # queued instead of the backlog: "send a whole snapshot"


class Sink(Protocol):
    """A socket the relay may write to directly."""

    def ready(self) -> bool:
        """True when a small message can be sent now without waiting for the client."""

    async def send(self, text: str) -> None: ...


class Subscriber:
    """One socket's place in the relay. Without a sink every change goes to its queue."""

    def __init__(self, queue_size: int, sink: Sink | None = None) -> None:
        self.queue: asyncio.Queue[str | object] = asyncio.Queue(maxsize=queue_size)
        self.sink = sink
        # set by the socket's pump while it writes a queued message: later ones queue behind it
        self.busy = False

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
        self._queued_only: set[Subscriber] = set()  # those without a sink, which the relay skips
        self._sent: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._changes: asyncio.Queue[str] = asyncio.Queue()
        self._relay: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin relaying; called on app startup, in the loop that serves the sockets."""
        self._loop = asyncio.get_running_loop()
        self._sent = public_states(self._settings, self._feed.current())
        self._changes = asyncio.Queue()
        self._relay = self._loop.create_task(self._relay_changes(), name="presence-relay")
        if not self._listening:
            # PresenceFeed has no way to remove a listener, so register once and go quiet on stop
            self._feed.listen(self.on_presence)
            self._listening = True

    def stop(self) -> None:
        self._loop = None
        self._subscribers.clear()
        self._queued_only.clear()
        if self._relay is not None:
            self._relay.cancel()
            self._relay = None

    def subscribe(self, sink: Sink | None = None) -> Subscriber:
        subscriber = Subscriber(self._queue_size, sink)
        self._subscribers.add(subscriber)
        if sink is None:
            self._queued_only.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        self._queued_only.discard(subscriber)

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
        for subscriber in list(self._queued_only):
            subscriber.offer(message)
        if len(self._subscribers) > len(self._queued_only):
            self._changes.put_nowait(message)

    async def _relay_changes(self) -> None:
        """Write each change to every socket, in order; a backed-up socket's share goes to its queue."""
        while True:
            message = await self._changes.get()
            for subscriber in list(self._subscribers):
                sink = subscriber.sink
                if sink is None:
                    continue
                # Everything for this socket after something queued must queue too, or it would
                # overtake. A ready socket's send does not wait, so one slow client stalls no other.
                if subscriber.busy or not subscriber.queue.empty() or not sink.ready():
                    subscriber.offer(message)
                    continue
                try:
                    await sink.send(message)
                except ConnectionError:
                    pass  # the socket's handler unsubscribes it
                except Exception:
                    log.exception("presence: sending a change failed; that socket gets a snapshot next")
                    subscriber.queue.put_nowait(RESYNC)  # its queue was empty: there is room
