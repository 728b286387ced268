"""Record a real AMI event stream from a busy Asterisk, as the fixture bench.ami_ingestion replays.

The busy scenario: the bench stack (bench.pbx_stack) with sipp placing calls through both the
Tugi-routed and the static path, while this script blind-transfers some answered calls to
another person (AMI BlindTransfer on the staff leg, which Asterisk carries out as a phone's
REFER would). One recorder logs in as Tugi's own AMI user, so its stream holds exactly what Tugi
receives; a second logs in as a user with the same read classes but no event filter, which
is what a PBX whose manager.conf was not written for Tugi would send. Everything after the
Login reply is kept, byte for byte, gzipped.

Run: python -m bench.ami_capture [--calls 400]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import subprocess
import threading
import time
from pathlib import Path

from bench.call_setup import PATHS, SCENARIO, write_calls
from bench.pbx_stack import (
    AMI_PORT,
    AMI_SECRET,
    CALLER_PORT,
    RAW_AMI_USER,
    SIP_PORT,
    Stack,
    agent_ids,
    running_stack,
)
from pbx_bridge.ami_protocol import FRAME_END, encode_action

DEFAULT_OUT = Path(__file__).with_name("fixtures") / "ami_busy.ami.gz"
UNFILTERED_OUT = DEFAULT_OUT.with_name("ami_busy_unfiltered.ami.gz")


class Recorder:
    """A second AMI login that keeps every byte it receives, and can send transfers."""

    def __init__(self, username: str = "tugi") -> None:
        self.username = username
        self.data = bytearray()
        self.transfers = 0
        self._writer: asyncio.StreamWriter | None = None

    async def run(self, stop: asyncio.Event) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", AMI_PORT)
        await reader.readline()  # banner
        self._writer.write(encode_action({"Action": "Login", "Username": self.username, "Secret": AMI_SECRET,
                                          "Events": "on"}))
        reply = await reader.readuntil(FRAME_END)
        if b"Success" not in reply:
            raise RuntimeError(f"AMI login refused: {reply!r}")
        reading = asyncio.create_task(self._read(reader))
        await stop.wait()
        await asyncio.sleep(5)  # the last hang-ups and CEL LINKEDID_END arrive after sipp is done
        reading.cancel()
        self._writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            self.data += chunk

    def blind_transfer(self, channel: str, target: str) -> None:
        assert self._writer is not None
        self._writer.write(encode_action({"Action": "BlindTransfer", "Channel": channel,
                                          "Context": "bench-static", "Exten": target}))
        self.transfers += 1


def answered_staff_legs(stack: Stack) -> list[str]:
    out = stack.asterisk.cli("core show channels concise")
    # concise: channel!context!exten!prio!state!app!data!…; staff legs are PJSIP/aNNNN-…
    return [line.split("!")[0] for line in out.splitlines()
            if line.startswith("PJSIP/a") and "!Up!" in line]


def place(stack: Stack, path: str, calls: int, calls_csv: Path) -> None:
    folder = stack.workdir / f"capture-{path}"
    folder.mkdir(exist_ok=True)
    subprocess.run(
        ["sipp", f"127.0.0.1:{SIP_PORT}", "-sf", str(SCENARIO), "-inf", str(calls_csv), "-i", PATHS[path],
         "-p", str(CALLER_PORT), "-m", str(calls), "-l", "60", "-r", "20", "-d", "3000",
         "-nostdin", "-timeout", "300", "-max_socket", "5000"],
        cwd=folder, capture_output=True, check=False,
    )


async def record(calls: int, out: Path, unfiltered: Path) -> None:
    agents = agent_ids(200)
    with running_stack(agents=len(agents)) as stack:
        # Each path calls its own half of the staff, so neither finds a person busy with the other's call.
        halves = {"static": agents[:100], "tugi": agents[100:]}
        csvs = {}
        for path, people in halves.items():
            (stack.workdir / path).mkdir()
            csvs[path] = write_calls(stack, stack.workdir / path, people)
        recorder, raw, stop = Recorder(), Recorder(RAW_AMI_USER), asyncio.Event()
        recording = [asyncio.create_task(recorder.run(stop)), asyncio.create_task(raw.run(stop))]
        await asyncio.sleep(1)
        load = [threading.Thread(target=place, args=(stack, path, calls // 2, csvs[path])) for path in PATHS]
        for thread in load:
            thread.start()
        rng = random.Random(7)
        while any(thread.is_alive() for thread in load):
            await asyncio.sleep(0.7)
            legs = await asyncio.to_thread(answered_staff_legs, stack)
            if legs:
                recorder.blind_transfer(rng.choice(legs), rng.choice(agents))
        stop.set()
        await asyncio.gather(*recording)
    for stream, path in ((recorder.data, out), (raw.data, unfiltered)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(bytes(stream), mtime=0))
        print(f"recorded {stream.count(FRAME_END)} AMI frames ({len(stream) / 1e6:.1f} MB, "
              f"{path.stat().st_size / 1e6:.2f} MB gzipped) → {path}")
    print(f"from {calls} calls with {recorder.transfers} blind transfers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Tugi's view: its own AMI user")
    parser.add_argument("--unfiltered-out", type=Path, default=UNFILTERED_OUT,
                        help="the same calls as an AMI user without Tugi's event filter")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(record(args.calls, args.out, args.unfiltered_out))
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
