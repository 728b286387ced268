"""How long one presence change takes to reach 10,000 open widget WebSockets, against bare aiohttp.

Measured: a staff phone's device state changes (an AMI `DeviceStateChange`, parsed from its wire
text by Tugi's own AMI frame parser and handed to `PresenceFeed.on_event`, as the AMI session's
dispatcher does). For every open socket of Tugi's real app (`web.app.build_app`, the real
`/api/public/presence/ws` endpoint with the product's origin check, rate limits and heartbeat),
the delay from just before the injection to the moment the client process reads the frame off
its socket. Reported: p50, p99 and max over all sockets of all changes, how many sockets got
each change, and how long the injecting call itself held the AMI event path.

Baseline, in the same run and interleaved round by round: a bare aiohttp WebSocket server (same
aiohttp, same heartbeat, a server process set up the same way) that on each trigger builds the
same JSON message once and sends it with a plain `for ws in sockets: await ws.send_str(msg)`.

Layout: the Tugi server and the baseline server each run in a process of their own (at most
20,000 descriptors per process here, and each holds N sockets); N client sockets per server are
spread over `--clients` client processes, each its own event loop with a lean asyncio.Protocol
WebSocket client that stamps `time.monotonic_ns()` as the first thing in `data_received`.
`time.monotonic_ns` is CLOCK_MONOTONIC, one clock for the whole Linux system, so a stamp taken
in a server process and one taken in a client process compare directly.

The delays include the client processes' own reading, on the same 2 cores, alike for both.
Both servers ping every socket every 25 s (the product's heartbeat); aiohttp rounds those timers
to whole seconds, so a burst of pings now and then lands in a round of either server.

Tugi's public rate limit (30 requests per source address at once, 5/s after) applies to socket
opens too; it is left as the product has it. The clients open at most 25 sockets per loopback
source address instead (127.x.y.z via `local_addr`), as 400 different visitors would.

`--deflate` makes the clients offer permessage-deflate as browsers do; aiohttp (both servers)
then compresses every message separately for every socket. The run ends with each server's RSS.

Run: python -m bench.presence_fanout [--sockets 10000] [--rounds 20] [--clients 2] [--deflate]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import os
import resource
import statistics
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from aiohttp import web

PATH = "/api/public/presence/ws"
STAFF = "alice"  # whose phone rings; the others stay available, so the team dot stays green
PER_ADDRESS = 25  # sockets per client source address: under the product's burst of 30 per address
IN_FLIGHT = 64  # connection attempts per client process at once: aiohttp's listen backlog is 128
KINDS = ("baseline", "tugi")
# device state -> the public state the widget shows, which is also what the client looks for
PUBLIC = {"INUSE": "busy", "NOT_INUSE": "available"}
FD_RESERVE = 200  # descriptors a process needs besides its sockets (pipes, the loop, imports)

Fire = Callable[[str], Awaitable[tuple[int, int]]]


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; return it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------- servers


def _tugi_app() -> tuple[web.Application, Fire, Callable[[], int]]:
    from panoramisk.message import Message
    from sqlalchemy import create_engine

    from history.protect import AesGcmProtector
    from history.store import HistoryStore
    from pbx_bridge.ami_protocol import parse_frame
    from pbx_bridge.presence_feed import PresenceFeed
    from tests.support.shop import test_settings
    from tugi.app import utc_now
    from web.app import build_app
    from web.keys import PRESENCE_HUB
    from web.services import WebServices

    settings = test_settings()
    feed = PresenceFeed(settings)
    # presence never touches the history; an in-memory database keeps the bench self-contained
    history = HistoryStore(create_engine("sqlite://"), AesGcmProtector("bench-presence-fanout-key"))
    services = WebServices(
        settings=settings, history=history, presence=feed, masking=None, tokens=None, place_callback=None,
        clock=utc_now,
    )
    app = build_app(services)  # the product's PublicLimits, unchanged

    def ami(text: str) -> Message:
        message = parse_frame(text.replace("\n", "\r\n").encode())
        assert message is not None
        return message

    async def online() -> None:
        for staff in settings.staff:
            await feed.on_event(ami(f"Event: ContactStatus\nAOR: {staff.endpoint}\nContactStatus: Reachable"))
            await feed.on_event(ami(f"Event: DeviceStateChange\nDevice: PJSIP/{staff.endpoint}\nState: NOT_INUSE"))

    async def fire(state: str) -> tuple[int, int]:
        # parsed before the clock starts: AMI parsing is another benchmark's subject
        event = ami(f"Event: DeviceStateChange\nPrivilege: call,all\nDevice: PJSIP/{STAFF}\nState: {state}")
        started = time.monotonic_ns()
        await feed.on_event(event)
        return started, time.monotonic_ns()

    app.on_startup.insert(0, lambda _app: online())
    return app, fire, lambda: len(app[PRESENCE_HUB])


def _baseline_app() -> tuple[web.Application, Fire, Callable[[], int]]:
    from tests.support.shop import test_settings
    from tugi.app import utc_now
    from web.limits import PublicLimits
    from web.presence.schemas import change

    settings = test_settings()
    heartbeat = PublicLimits().ws_heartbeat_seconds  # pings cost the same on both sides
    sockets: set[web.WebSocketResponse] = set()
    staff = settings.staff_by_id(STAFF)
    assert staff is not None
    states = {p.id: "available" for p in settings.staff}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=heartbeat)
        await ws.prepare(request)
        sockets.add(ws)
        try:
            await ws.send_str('{"type": "hello"}')
            async for _ in ws:
                pass
        finally:
            sockets.discard(ws)
        return ws

    async def fire(state: str) -> tuple[int, int]:
        started = time.monotonic_ns()
        # built once per change, like Tugi's: the same bytes, so the same frame size
        message = json.dumps(change(settings, staff, {**states, STAFF: PUBLIC[state]}, utc_now()))
        for ws in list(sockets):
            with contextlib.suppress(ConnectionError):
                await ws.send_str(message)
        return started, time.monotonic_ns()

    app = web.Application()
    app.router.add_get(PATH, handler)
    return app, fire, lambda: len(sockets)


async def _serve(kind: str, conn: Connection) -> None:
    from web.server import RUNNER_OPTIONS

    raise_fd_limit()
    app, fire, count = _tugi_app() if kind == "tugi" else _baseline_app()
    runner = web.AppRunner(app, handle_signals=False, **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send(runner.addresses[0][1])
    try:
        while True:
            command, *args = await asyncio.to_thread(conn.recv)
            if command == "fire":
                conn.send(await fire(*args))
            elif command == "count":
                conn.send(count())
            elif command == "rss":
                conn.send(_rss_mib())
            else:
                break
    finally:
        await runner.cleanup()
        conn.send("stopped")


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def server_process(kind: str, conn: Connection) -> None:
    """Entry point of a server process: serve `kind` ("tugi" or "baseline") until told to stop."""
    asyncio.run(_serve(kind, conn))


# ---------------------------------------------------------------- clients


def _masked(opcode: int, payload: bytes) -> bytes:
    # client frames must be masked; an all-zero mask leaves the payload as it is
    return bytes((0x80 | opcode, 0x80 | len(payload))) + b"\0\0\0\0" + payload


class _Fleet:
    """One client process's sockets to one server, and what a round is waiting for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sockets: list[_Socket] = []
        self.marker: bytes | None = None
        self.got = 0
        self.lost: Counter[str] = Counter()  # sockets closed after they opened, by why
        self.done: asyncio.Future[None] = loop.create_future()

    def arm(self, marker: bytes) -> None:
        for sock in self.sockets:
            sock.arrived = 0
        self.got = 0
        self.marker = marker
        self.done = self.loop.create_future()
        if not self.sockets:
            self.done.set_result(None)

    def arrival(self) -> None:
        self.got += 1
        if self.got == len(self.sockets) and not self.done.done():
            self.done.set_result(None)


class _Socket(asyncio.Protocol):
    """The least a WebSocket client can do: handshake, answer pings, stamp each awaited frame."""

    def __init__(self, fleet: _Fleet, request: bytes) -> None:
        self.fleet = fleet
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = fleet.loop.create_future()
        self.arrived = 0
        self.closed_by: str | None = None
        self.inflater: zlib._Decompress | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()  # first: the delay ends when the bytes reach this process
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if buf[9:12] != b"101":
                self._fail(f"HTTP {buf[9:12].decode(errors='replace')}")
                return
            if b"permessage-deflate" in buf[:end].lower():
                # the server keeps its compression context between messages, so must we
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            del buf[: end + 4]
            self.upgraded = True
        while len(buf) >= 2:
            size, head = buf[1] & 0x7F, 2
            if size == 126:
                size, head = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                size, head = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < head + size:
                return
            first = buf[0]
            opcode = first & 0x0F
            payload = bytes(buf[head : head + size])
            del buf[: head + size]
            if opcode == 0x1:
                if first & 0x40:  # RSV1: a compressed message
                    assert self.inflater is not None
                    payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                self._text(payload, now)
            elif opcode == 0x9:
                self.transport.write(_masked(0xA, payload))  # type: ignore[union-attr]
            elif opcode == 0x8:
                self.closed_by = f"server closed {int.from_bytes(payload[:2], 'big')}"
                self.transport.write(_masked(0x8, payload[:2]))  # type: ignore[union-attr]
                self.transport.close()  # type: ignore[union-attr]
                return

    def _text(self, payload: bytes, now: int) -> None:
        if not self.ready.done():
            self.ready.set_result(None)  # the snapshot (Tugi) or hello (baseline) sent on connect
            return
        fleet = self.fleet
        # the marker (the new state) tells this round's change from a late one of the round before
        if not self.arrived and fleet.marker is not None and fleet.marker in payload:
            self.arrived = now
            fleet.arrival()

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ready.done():
            self.fleet.lost[self.closed_by or repr(exc)] += 1
        self._fail("closed before the first message")


def source_address(client: int, index: int) -> str:
    """The loopback address the `index`th socket of client process `client` connects from."""
    n = index // PER_ADDRESS
    return f"127.{10 + client}.{n // 250}.{n % 250 + 1}"


async def _open(fleet: _Fleet, client: int, port: int, origin: str, count: int, deflate: bool) -> Counter[str]:
    loop = fleet.loop
    errors: Counter[str] = Counter()
    gate = asyncio.Semaphore(IN_FLIGHT)
    # what a browser offers; aiohttp then compresses every message, separately for each socket
    extension = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""

    async def one(index: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n{extension}\r\n"
        ).encode()
        sock = _Socket(fleet, request)
        async with gate:
            try:
                source = (source_address(client, index), 0)
                await loop.create_connection(lambda: sock, "127.0.0.1", port, local_addr=source)
                await asyncio.wait_for(sock.ready, 30)
            except (OSError, TimeoutError) as exc:
                errors[str(exc) or type(exc).__name__] += 1
                if sock.transport is not None:
                    sock.transport.close()
                return
        fleet.sockets.append(sock)

    await asyncio.gather(*(one(i) for i in range(count)))
    return errors


async def _client(client: int, conn: Connection) -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    fleets: dict[str, _Fleet] = {}
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "open":
            kind, port, origin, count, deflate = args
            fleet = fleets[kind] = _Fleet(loop)
            errors = await _open(fleet, client, port, origin, count, deflate)
            compressed = sum(1 for sock in fleet.sockets if sock.inflater is not None)
            conn.send((len(fleet.sockets), compressed, dict(errors)))
        elif command == "arm":
            kind, marker, timeout = args
            fleet = fleets[kind]
            fleet.arm(marker)
            conn.send("armed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fleet.done), timeout)
            conn.send(array("q", (s.arrived for s in fleet.sockets)).tobytes())
        elif command == "lost":
            conn.send({kind: dict(fleet.lost) for kind, fleet in fleets.items()})
        else:
            for fleet in fleets.values():
                for sock in fleet.sockets:
                    if sock.transport is not None:
                        sock.transport.close()
            await asyncio.sleep(0.5)
            conn.send("stopped")
            return


def client_process(client: int, conn: Connection) -> None:
    """Entry point of a client process: open sockets and stamp arrivals as the parent asks."""
    asyncio.run(_client(client, conn))


# ---------------------------------------------------------------- the run


@dataclass
class Tally:
    delays_ns: list[int] = field(default_factory=list)
    expected: int = 0
    held_ns: list[int] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.delays_ns)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] / 1e6


def _round(server: Connection, clients: list[Connection], kind: str, state: str, tally: Tally | None) -> None:
    marker = f'"state": "{PUBLIC[state]}"'.encode()
    for conn in clients:
        conn.send(("arm", kind, marker, 20.0))
    for conn in clients:
        assert conn.recv() == "armed"
    server.send(("fire", state))
    started, returned = server.recv()
    arrivals: list[int] = []
    for conn in clients:
        stamps = array("q")
        stamps.frombytes(conn.recv())
        arrivals.extend(stamps)
    if tally is not None:
        tally.delays_ns.extend(a - started for a in arrivals if a)
        tally.expected += len(arrivals)
        tally.held_ns.append(returned - started)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run(sockets: int, rounds: int, client_count: int, warmup: int, deflate: bool = False) -> None:
    """Start both servers and the clients, open the sockets, time the changes, print the table."""
    from tests.support.shop import test_settings

    limit = raise_fd_limit()
    per_client = _split(sockets, client_count)
    # each client process holds its share of both servers' sockets at once
    if 2 * max(per_client) + FD_RESERVE > limit:
        raise SystemExit(f"{2 * max(per_client)} sockets per client process exceed RLIMIT_NOFILE {limit}: "
                         "use more --clients")
    origin = test_settings().http.allowed_origins[0]
    ctx = multiprocessing.get_context("spawn")
    links: dict[str, Connection] = {}
    client_links: list[Connection] = []
    processes: list[multiprocessing.process.BaseProcess] = []
    try:
        for kind in KINDS:
            here, there = ctx.Pipe()
            proc = ctx.Process(target=server_process, args=(kind, there), name=f"fanout-{kind}-server")
            proc.start()
            processes.append(proc)
            links[kind] = here
        for client in range(client_count):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(client, there), name=f"fanout-client-{client}")
            proc.start()
            processes.append(proc)
            client_links.append(here)
        ports = {kind: links[kind].recv() for kind in KINDS}

        for kind in KINDS:
            opened_at = time.monotonic()
            for client, conn in enumerate(client_links):
                conn.send(("open", kind, ports[kind], origin, per_client[client], deflate))
            opened, compressed, errors = 0, 0, Counter[str]()
            for conn in client_links:
                count, deflating, failed = conn.recv()
                opened += count
                compressed += deflating
                errors.update(failed)
            links[kind].send(("count",))
            held = links[kind].recv()
            print(f"{kind}: {opened}/{sockets} sockets open in {time.monotonic() - opened_at:.1f} s "
                  f"(server holds {held}, {compressed} with permessage-deflate)"
                  f"{'; failures: ' + str(dict(errors)) if errors else ''}", flush=True)

        states = list(PUBLIC)
        for i in range(warmup):
            for kind in KINDS:
                _round(links[kind], client_links, kind, states[i % 2], None)
        tallies = {kind: Tally() for kind in KINDS}
        for i in range(rounds):
            # ABBA order, so neither server always goes first after the pause, in either state
            order = KINDS if (i // 2) % 2 == 0 else KINDS[::-1]
            for kind in order:
                _round(links[kind], client_links, kind, states[(warmup + i) % 2], tallies[kind])
                time.sleep(0.2)
        _report(tallies, sockets, rounds, client_count, deflate)
        for kind in KINDS:
            links[kind].send(("count",))
            lost: Counter[str] = Counter()
            for conn in client_links:
                conn.send(("lost",))
                lost.update(conn.recv()[kind])
            still_open = links[kind].recv()
            links[kind].send(("rss",))
            print(f"{kind}: {still_open} sockets still open at the end, server RSS {links[kind].recv():.0f} MiB"
                  f"{'; closed on the way: ' + str(dict(lost)) if lost else ''}")
    finally:
        for conn in [*client_links, *links.values()]:
            with contextlib.suppress(OSError, EOFError):
                conn.send(("stop",))
                if conn.poll(30):
                    conn.recv()
        for proc in processes:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def _report(tallies: dict[str, Tally], sockets: int, rounds: int, client_count: int, deflate: bool) -> None:
    print()
    print(f"Presence fan-out: {sockets:,} sockets per server, {rounds} changes each (interleaved), "
          f"{client_count} client process(es), permessage-deflate {'on' if deflate else 'off'}")
    print("delay = client read (time.monotonic_ns) - injection (time.monotonic_ns); CLOCK_MONOTONIC is system-wide")
    header = f"{'server':<10} {'received':>17} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'injector held ms':>17}"
    print(header)
    print("-" * len(header))
    figures = {}
    for kind in KINDS:
        tally = tallies[kind]
        if not tally.delays_ns:
            print(f"{kind:<10} {0:>8}/{tally.expected:<8} (nothing arrived)")
            continue
        p50, p99, top = tally.percentile(0.50), tally.percentile(0.99), max(tally.delays_ns) / 1e6
        held = statistics.median(tally.held_ns) / 1e6
        figures[kind] = (p50, p99, top)
        print(f"{kind:<10} {len(tally.delays_ns):>8}/{tally.expected:<8} {p50:>9.2f} {p99:>9.2f} {top:>9.2f} "
              f"{held:>17.2f}")
    if len(figures) == 2:
        (b50, b99, bmax), (t50, t99, tmax) = figures["baseline"], figures["tugi"]
        print(f"{'tugi/base':<10} {'':>17} {t50 / b50:>8.2f}x {t99 / b99:>8.2f}x {tmax / bmax:>8.2f}x")
    print("injector held = how long the injecting call ran (median): Tugi's PresenceFeed.on_event, "
          "the baseline's whole send loop")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sockets", type=int, default=10_000, help="WebSockets per server (default 10,000)")
    parser.add_argument("--rounds", type=int, default=20, help="timed changes per server (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed changes per server first (default 2)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate, as browsers do")
    args = parser.parse_args(argv)
    run(args.sockets, args.rounds, args.clients, args.warmup, args.deflate)


if __name__ == "__main__":
    main()
