"""AMI ingestion: events/s through Tugi's whole event path vs panoramisk's bare Manager.

The streams are real ones, recorded by bench.ami_capture from a busy Asterisk (400 calls,
blind transfers): `ami_busy.ami.gz` is what Tugi's own AMI user is sent (manager.conf filters
for the events Tugi reads), `ami_busy_unfiltered.ami.gz` the same calls as seen by a user
without that filter, as on a PBX whose manager.conf was not written for Tugi. A local TCP
server plays Asterisk: it answers the login (and the actions a client sends after it) and then
writes the recorded bytes as fast as the client reads them.

- Tugi: the composition root's `Engine` (its AMI session with byte-buffered framing, the
  presence feed, the CEL tracker, the call recorder and the history writer on SQLite), timed
  from login to the last event handled, and to the last record stored.
- Baseline: panoramisk's `Manager` with one catch-all event callback that counts — the parser
  and dispatch a plain panoramisk application gets, with no work done per event.

Run: python -m bench.ami_ingestion [--rounds 3] [--fixture PATH]... [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gzip
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from panoramisk import Manager
from sqlalchemy import text

from bench.ami_capture import DEFAULT_OUT, UNFILTERED_OUT
from config.schema import Settings
from pbx_bridge.ami_protocol import FRAME_END, FrameBuffer
from tests.support.shop import test_settings
from tugi.app import Engine

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
# Sent after the recording, so a client knows it has everything (panoramisk, for one, holds
# back the last frame until more bytes arrive).
END = b"Event: BenchEnd\r\n\r\n"


class ReplayServer:
    """Plays Asterisk on loopback: answers actions, then sends the recording once per login."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        writer.write(BANNER)
        sending: asyncio.Task | None = None
        try:
            while True:
                frame = await reader.readuntil(FRAME_END)
                fields = dict(
                    line.split(": ", 1) for line in frame.decode().strip().split("\r\n") if ": " in line
                )
                action, action_id = fields.get("Action", "").lower(), fields.get("ActionID", "")
                writer.write(_reply(action, action_id))
                if action == "login" and sending is None:
                    sending = asyncio.create_task(self._send(writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if sending is not None:
                sending.cancel()
            writer.close()
            self._writers.discard(writer)

    async def _send(self, writer: asyncio.StreamWriter) -> None:
        view = memoryview(self.stream)
        for start in range(0, len(view), 1 << 16):
            writer.write(view[start:start + (1 << 16)])
            await writer.drain()
        writer.write(END)


def _reply(action: str, action_id: str) -> bytes:
    head = f"Response: Success\r\nActionID: {action_id}\r\n"
    if action == "login":
        return (head + "Message: Authentication accepted\r\n\r\n").encode()
    if action == "devicestatelist":
        return (head + "EventList: start\r\n\r\nEvent: DeviceStateListComplete\r\n"
                f"ActionID: {action_id}\r\nEventList: Complete\r\nListItems: 0\r\n\r\n").encode()
    if action == "ping":
        return (head + "Ping: Pong\r\n\r\n").encode()
    return f"Response: Error\r\nActionID: {action_id}\r\nMessage: not in this replay\r\n\r\n".encode()


def count_events(stream: bytes) -> int:
    frames = FrameBuffer()
    return sum(1 for m in frames.feed(BANNER + stream + END) if "Event" in m)


async def through_tugi(port: int, expected: int, folder: Path) -> tuple[float, float, int]:
    """Seconds to the last event handled, seconds to the last record stored, records stored."""
    settings = _settings(port, folder)
    engine = Engine(settings, data_dir=folder)
    seen = 0
    done = asyncio.Event()

    def counted(message: Mapping[str, str]) -> None:
        nonlocal seen
        seen += 1
        if message.get("Event") == "BenchEnd":
            done.set()

    engine.ami.subscribe(counted)  # after the engine's own handlers: counts events fully handled
    # The end marker is one more event name to let through; nothing else about the engine changes.
    accepted = (engine.ami.settings.events or frozenset()) | {"BenchEnd"}
    engine.ami.settings = dataclasses.replace(engine.ami.settings, events=accepted)
    await asyncio.to_thread(_upgrade, settings)
    await engine.writer.start()
    started = time.perf_counter()
    await engine.ami.start()
    await _wait(done, lambda: f"Tugi handled {seen} of {expected} events")
    handled = time.perf_counter() - started
    await engine.recorder.drain(timeout=300)
    await engine.writer.flush(timeout=300)
    stored = time.perf_counter() - started
    with engine.engine.connect() as connection:
        records = connection.execute(text("SELECT count(*) FROM interaction")).scalar_one()
    await engine.ami.stop()
    await engine.recorder.stop()
    await engine.writer.stop()
    engine.engine.dispose()
    return handled, stored, records


async def _wait(done: asyncio.Event, progress: Callable[[], str], timeout: float = 300) -> None:
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        raise SystemExit(f"stalled: {progress()} after {timeout:.0f} s") from None


def _settings(port: int, folder: Path) -> Settings:
    base = test_settings()
    return base.model_copy(update={
        "asterisk": base.asterisk.model_copy(update={"ami_host": "127.0.0.1", "ami_port": port, "cel_csv": None}),
        "database": base.database.model_copy(update={"url": f"sqlite:///{folder / 'history.sqlite3'}"}),
    })


def _upgrade(settings: Settings) -> None:
    from history.migrate import upgrade

    upgrade(settings.database.url)


async def through_panoramisk(port: int, expected: int) -> float:
    seen = 0
    done = asyncio.Event()
    manager = Manager(host="127.0.0.1", port=port, username="tugi", secret="x", ping_delay=0,
                      reconnect_timeout=0.1)

    def counted(_manager: Manager, message: Mapping[str, str]) -> None:
        nonlocal seen
        seen += 1
        if message.get("Event") == "BenchEnd":
            done.set()

    manager.register_event("*", counted)
    started = time.perf_counter()
    await manager.connect()
    await _wait(done, lambda: f"panoramisk dispatched {seen} of {expected} events")
    elapsed = time.perf_counter() - started
    manager.close()
    return elapsed


async def run(label: str, stream: bytes, rounds: int, profile: bool) -> None:
    expected = count_events(stream)
    server = ReplayServer(stream)
    await server.start()
    print(f"\n{label}: {len(stream) / 1e6:.1f} MB, {expected} events")
    bare: list[float] = []
    tugi: list[tuple[float, float, int]] = []
    for _ in range(rounds):
        bare.append(await through_panoramisk(server.port, expected))
        with tempfile.TemporaryDirectory() as folder:
            tugi.append(await _maybe_profiled(profile, lambda: through_tugi(server.port, expected, Path(folder))))
    await server.stop()
    b = statistics.median(bare)
    handled = statistics.median(t[0] for t in tugi)
    stored = statistics.median(t[1] for t in tugi)
    print(f"\n{'path':55} {'seconds':>8} {'events/s':>10} {'× baseline time':>16}")
    print(f"{'panoramisk Manager, catch-all callback (baseline)':55} {b:>8.3f} {expected / b:>10.0f} {1.0:>16.2f}")
    print(f"{'Tugi: every event handled (tracker, presence, recorder)':55} {handled:>8.3f} "
          f"{expected / handled:>10.0f} {handled / b:>16.2f}")
    print(f"{'Tugi: and every record stored in SQLite':55} {stored:>8.3f} {expected / stored:>10.0f} "
          f"{stored / b:>16.2f}")
    print(f"records stored per round: {tugi[0][2]}; median of {rounds} rounds each")


async def _maybe_profiled(profile: bool, work: Callable) -> tuple[float, float, int]:
    if not profile:
        return await work()
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return await work()
    finally:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fixture", type=Path, action="append",
                        help=f"a recorded stream (default: {DEFAULT_OUT.name} and {UNFILTERED_OUT.name})")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one Tugi round")
    args = parser.parse_args()
    for fixture in args.fixture or [DEFAULT_OUT, UNFILTERED_OUT]:
        stream = gzip.decompress(fixture.read_bytes())
        asyncio.run(run(fixture.name, stream, 1 if args.profile else args.rounds, args.profile))


if __name__ == "__main__":
    main()
