"""The widget's presence: a snapshot over GET, and a WebSocket that pushes every change.

The socket is one-way. A client has nothing to say on it, so one that sends more than a few
messages a second, or one bigger than `ws_max_message_bytes`, is closed with 1008 (policy
violation). aiohttp itself closes with 1009 past 16 times that size, before reading it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import WSCloseCode, WSMsgType, web

from web.access import Access, Endpoint
from web.errors import ApiError
from web.keys import LIMITS, PRESENCE_HUB, PRESENCE_SOCKETS
from web.presence.notifier import RESYNC, PresenceHub, Subscriber
from web.ratelimit import TokenBucketLimiter

NO_STORE = {"Cache-Control": "no-store"}


async def get_presence(request: web.Request) -> web.Response:
    return web.json_response(request.app[PRESENCE_HUB].snapshot(), headers=NO_STORE)


async def presence_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[PRESENCE_HUB]
    limits = request.app[LIMITS]
    ws = web.WebSocketResponse(
        heartbeat=limits.ws_heartbeat_seconds, max_msg_size=limits.ws_max_message_bytes * 16
    )
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "this endpoint takes a WebSocket connection (Upgrade: websocket)")
    await ws.prepare(request)
    sockets = request.app[PRESENCE_SOCKETS]
    sockets.add(ws)
    # subscribe before the snapshot, so a change in between arrives (at worst twice), never not at all
    subscriber = hub.subscribe(_SocketSink(ws, request.transport))
    pump: asyncio.Task[None] | None = None
    try:
        # busy while the snapshot goes out, so a change meanwhile queues behind it
        subscriber.busy = True
        await ws.send_str(hub.snapshot_message())
        subscriber.busy = False
        pump = asyncio.create_task(_relay_changes(ws, subscriber, hub))
        chatter = TokenBucketLimiter(limits.ws_messages, time.monotonic, max_keys=1)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                size = len(message.data.encode("utf-8"))
            elif message.type is WSMsgType.BINARY:
                size = len(message.data)
            else:
                break
            if size > limits.ws_max_message_bytes:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"message too large")
                break
            if not chatter.take("client").allowed:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too many messages")
                break
            # anything else a client sends is ignored: there is nothing to ask on this socket
    finally:
        hub.unsubscribe(subscriber)
        sockets.discard(ws)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
    return ws


class _SocketSink:
    """What the hub's relay writes to: the socket, while its send buffer is not backed up."""

    __slots__ = ("transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.ws = ws
        self.transport = transport

    def ready(self) -> bool:
        # At or under the low-water mark the transport is not paused, and a small frame cannot
        # push it past the high-water mark, so aiohttp's send returns without awaiting a drain.
        transport = self.transport
        if transport is None or transport.is_closing() or self.ws.closed:
            return False
        return transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)


async def _relay_changes(ws: web.WebSocketResponse, subscriber: Subscriber, hub: PresenceHub) -> None:
    """Drain the socket's queue: the changes the hub could not write at once, or a snapshot."""
    while not ws.closed:
        item = await subscriber.queue.get()
        text = hub.snapshot_message() if item is RESYNC else str(item)
        subscriber.busy = True
        try:
            await ws.send_str(text)
        except ConnectionError:
            return
        finally:
            subscriber.busy = False


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: tell every widget the server is going away, so it reconnects to the next one."""
    sockets = app[PRESENCE_SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


ENDPOINTS = (
    Endpoint("GET", "/api/public/presence", get_presence, Access.PUBLIC, "public.presence"),
    Endpoint("GET", "/api/public/presence/ws", presence_socket, Access.PUBLIC, "public.presence_ws"),
)
