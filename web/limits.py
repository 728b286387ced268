"""How much the public (widget) side accepts from one source; not in the shop's config file yet."""

from __future__ import annotations

from dataclasses import dataclass

from web.ratelimit import Rate


@dataclass(frozen=True)
class PublicLimits:
    # every public request from one IP address: presence polls, token requests, socket opens
    requests: Rate = Rate(per_second=5.0, burst=30)
    # call backs ring a phone and cost money: far fewer, per IP address and per number called
    callbacks: Rate = Rate(per_second=1 / 300, burst=3)
    # what one presence WebSocket client may send (it has no reason to send anything much)
    ws_messages: Rate = Rate(per_second=5.0, burst=10)
    ws_max_message_bytes: int = 4096
    ws_heartbeat_seconds: float = 25.0
    # a client slower than this many queued changes is dropped and reconnects to a fresh snapshot
    ws_queue: int = 64
    # JSON bodies are small; anything bigger is refused before it is parsed
    max_body_bytes: int = 16 * 1024
