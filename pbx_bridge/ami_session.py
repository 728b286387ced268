"""A long-lived AMI session that notices when the link dies and never repeats an action.

What it adds to panoramisk's Manager, each for a failure seen in the field:
- login is checked, and a refused login is logged and retried with backoff, not silently forever;
- a heartbeat whose *reply* is awaited: a half-open TCP link is detected within
  `heartbeat + heartbeat_timeout` seconds, then the socket is closed and re-opened;
- reconnect with capped exponential backoff;
- every action has a timeout, and an action in flight when the link dies fails with
  `AmiDisconnected` — it is never re-sent behind the caller's back (a re-sent Originate
  rings a customer twice);
- events are handed to subscribers one at a time, in the order Asterisk sent them;
- events no subscriber reads (`AmiSettings.events`) are dropped before they are parsed;
- after each login, `on_login` callbacks run first, so live state can be resynchronised
  (events during an outage are gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from pbx_bridge.ami_protocol import AmiMessage, FieldValue, FrameBuffer, encode_action

log = logging.getLogger(__name__)

EventHandler = Callable[[AmiMessage], Awaitable[None] | None]
LoginHandler = Callable[["AmiSession"], Awaitable[None] | None]


class AmiError(Exception):
    """An AMI action could not be completed."""


class AmiDisconnected(AmiError):
    """The link was down, or went down before the action's reply arrived."""


class AmiTimeout(AmiError):
    """No reply within the action's timeout."""


class AmiActionFailed(AmiError):
    """Asterisk answered the action with an error."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


@dataclass
class _Pending:
    action: str
    future: asyncio.Future
    collect: bool = False
    events: list[AmiMessage] = field(default_factory=list)
    response: AmiMessage | None = None


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str
    heartbeat: float = 5.0
    heartbeat_timeout: float = 3.0
    action_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 15.0
    connect_timeout: float = 5.0
    # The event names subscribers read; others are dropped unparsed (None: every event).
    events: frozenset[str] | None = None


class AmiSession:
    def __init__(self, settings: AmiSettings) -> None:
        self.settings = settings
        self._handlers: list[EventHandler] = []
        self._login_handlers: list[LoginHandler] = []
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._prefix = f"tugi-{random.getrandbits(32):08x}"
        self._writer: asyncio.StreamWriter | None = None
        self._events: asyncio.Queue[AmiMessage] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self.connected = asyncio.Event()
        self.logins = 0
        self.disconnects = 0
        self.skipped_frames = 0
        self.ignored_events = 0

    # -- wiring
    def subscribe(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def on_login(self, handler: LoginHandler) -> None:
        self._login_handlers.append(handler)

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._run(), name="ami-connection"),
            asyncio.create_task(self._dispatch(), name="ami-dispatch"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._close_link()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    def inject(self, message: AmiMessage) -> None:
        """Queue a message of Tugi's own behind the events received so far, to run in order."""
        self._events.put_nowait(message)

    # -- actions
    async def send(
        self, fields: Mapping[str, FieldValue], *, timeout: float | None = None, collect: bool = False
    ) -> AmiMessage | list[AmiMessage]:
        """Send one action and await its reply (and, with `collect`, its list of events)."""
        if not self.connected.is_set():
            raise AmiDisconnected(f"{fields.get('Action')}: not connected to Asterisk")
        return await self._request(fields, timeout, collect)

    async def _request(
        self, fields: Mapping[str, FieldValue], timeout: float | None, collect: bool
    ) -> AmiMessage | list[AmiMessage]:
        if self._writer is None:
            raise AmiDisconnected(f"{fields.get('Action')}: not connected to Asterisk")
        action_id = f"{self._prefix}-{next(self._ids)}"
        data = encode_action({**fields, "ActionID": action_id})
        loop = asyncio.get_running_loop()
        pending = _Pending(str(fields.get("Action")), loop.create_future(), collect)
        self._pending[action_id] = pending
        try:
            self._writer.write(data)
            return await asyncio.wait_for(pending.future, timeout or self.settings.action_timeout)
        except TimeoutError:
            raise AmiTimeout(f"{pending.action}: no reply within {timeout or self.settings.action_timeout} s") from None
        finally:
            self._pending.pop(action_id, None)

    async def send_list(self, fields: Mapping[str, FieldValue], *, timeout: float | None = None) -> list[AmiMessage]:
        """An action answered by an event list (CoreShowChannels, DeviceStateList, …)."""
        result = await self.send(fields, timeout=timeout, collect=True)
        assert isinstance(result, list)
        return result

    # -- the connection loop
    async def _run(self) -> None:
        delay = self.settings.backoff_initial
        while not self._stopping:
            stable = False
            try:
                stable = await self._session_once()
            except (OSError, TimeoutError, AmiError, ConnectionError) as exc:
                log.warning("AMI %s:%s: %s", self.settings.host, self.settings.port, exc)
            finally:
                self._close_link()
            if self._stopping:
                return
            delay = self.settings.backoff_initial if stable else min(delay * 2, self.settings.backoff_max)
            log.info("AMI: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _session_once(self) -> bool:
        """Connect, log in, read until the link dies; True if it was up long enough to count."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.settings.host, self.settings.port), self.settings.connect_timeout
        )
        self._writer = writer
        frames = FrameBuffer(self.settings.events)
        reader_task = asyncio.create_task(self._read(reader, frames), name="ami-reader")
        try:
            # `connected` is set only after login, so nobody else's action goes out before it.
            try:
                await self._request(
                    {"Action": "Login", "Username": self.settings.username, "Secret": self.settings.secret,
                     "Events": "on"},
                    self.settings.connect_timeout,
                    False,
                )
            except AmiActionFailed as exc:
                raise AmiActionFailed(
                    "Login", f"refused for user {self.settings.username!r} ({exc.message}); check asterisk.ami_secret"
                ) from None
            self.logins += 1
            self.connected.set()
            log.info("AMI: logged in to %s:%s (%s)", self.settings.host, self.settings.port, frames.banner)
            for handler in self._login_handlers:
                result = handler(self)
                if inspect.isawaitable(result):
                    await result
            heartbeat = asyncio.create_task(self._heartbeat(), name="ami-heartbeat")
            try:
                done, _ = await asyncio.wait({reader_task, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception():
                        raise task.exception()
            finally:
                heartbeat.cancel()
            return True
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task
            self.skipped_frames += frames.skipped
            self.ignored_events += frames.ignored

    async def _read(self, reader: asyncio.StreamReader, frames: FrameBuffer) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                raise AmiDisconnected("Asterisk closed the AMI connection")
            for message in frames.feed(data):
                self._route(message)

    def _route(self, message: AmiMessage) -> None:
        action_id = message.get("ActionID")
        pending = self._pending.get(action_id) if action_id else None
        if pending is None:
            if "Event" in message:
                self._events.put_nowait(message)
            return
        if "Response" in message:
            pending.response = message
            if message.get("Response") == "Error":
                if not pending.future.done():
                    pending.future.set_exception(AmiActionFailed(pending.action, message.get("Message", "")))
                return
            if not pending.collect or message.get("EventList", "").lower() != "start":
                if pending.collect and message.get("Response") == "Success":
                    pending.future.done() or pending.future.set_result([])
                elif not pending.future.done():
                    pending.future.set_result(message)
            return
        if pending.collect:
            if message.get("EventList", "").lower() == "complete":
                pending.future.done() or pending.future.set_result(pending.events)
            else:
                pending.events.append(message)
        # Events carrying our ActionID also belong to the event stream (e.g. OriginateResponse).
        self._events.put_nowait(message)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            try:
                await self.send({"Action": "Ping"}, timeout=self.settings.heartbeat_timeout)
            except AmiTimeout:
                raise AmiDisconnected(
                    f"no reply to the heartbeat within {self.settings.heartbeat_timeout} s: link is dead"
                ) from None

    def _close_link(self) -> None:
        was_up = self._writer is not None
        self.connected.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(
                    AmiDisconnected(f"{pending.action}: the AMI link went down before the reply; not re-sent")
                )
        self._pending.clear()
        if was_up:
            self.disconnects += 1

    # -- events, strictly in order
    async def _dispatch(self) -> None:
        while True:
            message = await self._events.get()
            for handler in self._handlers:
                try:
                    result = handler(message)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("AMI event handler failed on %s; skipped", message.get("Event"))
