"""How long one FastAGI routing decision takes, against a do-nothing FastAGI handler.

Both run through Tugi's real FastAGI server on loopback; the client plays Asterisk (sends the
agi_* environment, answers every command with "200 result=1"). The ratio is Tugi's full
`route` decision (plan for a web call with a valid token, or an internal call) over the
baseline handler that only sets one variable. Run: python -m bench.agi_decision
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime

from pbx_bridge.agi_server import AgiCall, AgiServer
from pbx_bridge.call_tokens import CallTokens
from pbx_bridge.route_handler import RouteHandler
from routing.presence import PresenceSnapshot
from tests.support.shop import test_settings

ROUNDS = 2000


async def fake_asterisk(port: int, script: str, args: list[str], variables: dict[str, str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    env = [f"agi_network_script: {script}", f"agi_uniqueid: 1700000000.{time.perf_counter_ns()}",
           "agi_callerid: web", "agi_channel: PJSIP/tugi-web-guest-00000001"]
    env += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, start=1)]
    writer.write(("\n".join(env) + "\n\n").encode())
    while line := await reader.readline():
        command = line.decode().strip()
        if command.startswith("GET FULL VARIABLE"):
            name = command.split("${", 1)[1].rstrip("}")
            value = variables.get(name, "")
            writer.write(f"200 result={'1' if value else '0'} ({value})\n".encode())
        else:
            writer.write(b"200 result=1\n")
    writer.close()


async def measure(server: AgiServer, script: str, args: list[str], variables: dict[str, str]) -> list[float]:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await fake_asterisk(server.port, script, args, variables)
        times.append(time.perf_counter() - started)
    return times


async def main() -> None:
    settings = test_settings()
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    tokens = CallTokens("bench-key", settings.shop.id)
    token, _ = tokens.issue("bob", "cart-1", now)
    presence = PresenceSnapshot.all_available(p.id for p in settings.staff)
    handler = RouteHandler(settings, presence=lambda: presence, clock=lambda: now, tokens=tokens)

    async def baseline(call: AgiCall) -> None:
        await call.set("TUGI_ANSWER", "hangup,16")

    server = AgiServer("127.0.0.1", 0)
    server.route("route", handler)
    server.route("noop", baseline)
    await server.start()
    rows = []
    base = await measure(server, "noop", [], {})
    for label, args, variables in (
        ("web call, token checked, plan built", ["web", "0", "bob"], {"TUGI_TOKEN": token}),
        ("internal call", ["internal", "0", "202"], {}),
    ):
        times = await measure(server, "route", args, variables)
        rows.append((label, times))
    await server.stop()
    b50, b99 = statistics.median(base), statistics.quantiles(base, n=100)[98]
    print(f"baseline FastAGI round trip (one SET VARIABLE): p50 {b50*1e3:.3f} ms, p99 {b99*1e3:.3f} ms")
    for label, times in rows:
        p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
        print(f"{label}: p50 {p50*1e3:.3f} ms ({p50/b50:.2f}x baseline), p99 {p99*1e3:.3f} ms ({p99/b99:.2f}x)")
    inner = handler.decision_seconds
    print(f"decision inside the handler (all commands included): p50 {statistics.median(inner)*1e3:.3f} ms")


if __name__ == "__main__":
    asyncio.run(main())
