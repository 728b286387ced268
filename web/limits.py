"""How much the public (widget) side accepts from one source; not in the shop's config file yet."""

from __future__ import annotations

from dataclasses import dataclass

from web.ratelimit import Rate

# every public request from one IP address: presence polls, token requests, socket opens
REQUESTS = Rate(per_second=5.0, burst=30)
# call backs ring a phone and cost money: far fewer per IP address...
CALLBACKS = Rate(per_second=1 / 300, burst=3)
# ...and per number called, so many addresses together cannot make the shop pester one person
CALLBACKS_PER_NUMBER = Rate(per_second=1 / 1200, burst=2)
# what one presence WebSocket client may send (it has no reason to send anything much)
WS_MESSAGES = Rate(per_second=5.0, burst=10)


@dataclass(frozen=True)
class PublicLimits:
    requests: Rate = REQUESTS
    callbacks: Rate = CALLBACKS
    callbacks_per_number: Rate = CALLBACKS_PER_NUMBER
    ws_messages: Rate = WS_MESSAGES
    ws_max_message_bytes: int = 4096
    ws_heartbeat_seconds: float = 25.0
    # a client slower than this many queued changes loses its backlog and gets a fresh snapshot
    ws_queue: int = 64
    # JSON bodies are small; anything bigger is refused before it is parsed
    max_body_bytes: int = 16 * 1024
