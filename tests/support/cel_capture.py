"""Capture real CEL traces from a local Asterisk 22, for the call tracker's replay fixtures.

    python -m tests.support.cel_capture OUTDIR [SCENARIO ...]

starts a LocalAsterisk of its own (own name, own ports: none of tests/support/shop.py's), connects
to its AMI as "tugi", records every `CEL` event (and the AMI `Hold`/`Unhold` events, which CEL
lacks), plays each scenario with real pjsua2 phones, and writes one table per scenario to
OUTDIR/<scenario>.txt (see `tests.support.cel_table`) plus the whole run as cel_custom wrote it
to OUTDIR/master.csv. Asterisk is always stopped at the end.

Most scenarios run without Tugi's FastAGI server, so the dialplan's failsafe rings the colleague
straight from [tugi-extensions] (internal calls) or the outsourced centre (inbound calls). A few
("routed") run with `StubAgi`, a minimal FastAGI server that answers the [tugi-route] step loop
the way Tugi's router will: dial targets, ring all, refuse a stranger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.loader import parse_settings
from config.schema import Settings
from tests.support import shop
from tests.support.cel_table import format_table

log = logging.getLogger("cel_capture")

# Ports of the capture run: all different from tests/support/shop.py's, so the lead's tests and
# a capture can run at the same time.
PORTS = {
    shop.AMI_PORT: 25038,
    shop.SIP_PORT: 25060,
    shop.HTTP_PORT: 28088,
    shop.AGI_PORT: 24573,
    shop.TUGI_HTTP_PORT: 28080,
    shop.CARRIER_PORT: 25070,
    shop.OUTSOURCED_PORT: 25080,
    30000: 31000,  # rtp_start
    30999: 31999,  # rtp_end
}
SIP_PORT = PORTS[shop.SIP_PORT]
AMI_PORT = PORTS[shop.AMI_PORT]
AGI_PORT = PORTS[shop.AGI_PORT]
CARRIER_PORT = PORTS[shop.CARRIER_PORT]
OUTSOURCED_PORT = PORTS[shop.OUTSOURCED_PORT]

CUSTOMER_NUMBER = "+37255512345"     # a customer calling in through the carrier (test data)
SHOP_NUMBER = "+3726005000"
PROXY_NUMBER = "+3726001001"

# cel_custom (Asterisk 22.8+) needs the shared CDR/CEL writer module loaded before it.
CSV_MODULES = ("res_cdrel_custom.so", "cel_custom.so")
# cel.conf's `dateformat` shapes the CSV's EventTime (never the AMI one, which is always
# "%Y-%m-%d %H:%M:%S" in the PBX's local time). Without it Asterisk writes "<epoch>.<usec>":
# exact and free of time zones, which is what the capture uses (and what Tugi should render).
CEL_DATEFORMAT_LINE = ""


def capture_settings() -> Settings:
    text = shop.TEST_SHOP_TOML
    for old, new in PORTS.items():
        text = re.sub(rf"(?<!\d){old}(?!\d)", str(new), text)
    return parse_settings(text, "tests/support/cel_capture.py")


def extra_files(settings: Settings) -> dict[str, str]:
    """Files the capture run adds to or changes in Tugi's rendered ones: cel_custom (module and
    mapping) and cel.conf without `dateformat`, so the CSV carries exact epoch times."""
    from dialplans import render

    rendered = {f.name: f.text for f in render.render(settings)}
    env = render._environment()
    modules = rendered["modules.conf"]
    if "load=cel_custom.so" not in modules:
        modules += "\n; the capture's reconciliation source\n" + "\n".join(f"load={m}" for m in CSV_MODULES) + "\n"
    cel = re.sub(r"(?m)^dateformat=.*\n", CEL_DATEFORMAT_LINE, rendered["cel.conf"])
    return {
        "modules.conf": modules,
        "cel.conf": cel,
        "cel_custom.conf": env.get_template("cel_custom.conf.j2").render({"s": settings}),
    }


# ------------------------------------------------------------------------------------ AMI side


class CelRecorder:
    """An asyncio loop in a thread of its own: the AMI connection and, when asked, the stub AGI."""

    WANTED = ("CEL", "Hold", "Unhold")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ami", daemon=True)
        self._thread.start()
        self.manager = None
        self.agi: StubAgi | None = None

    def _submit(self, coro, timeout: float = 15.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self) -> None:
        self._submit(self._connect())

    async def _connect(self) -> None:
        from panoramisk import Manager

        manager = Manager(
            loop=self.loop,
            host=self.settings.asterisk.ami_host,
            port=self.settings.asterisk.ami_port,
            username="tugi",
            secret=self.settings.asterisk.ami_secret.get_secret_value(),
            ping_delay=0,
        )
        for name in self.WANTED:
            manager.register_event(name, self._record)
        await manager.connect()
        for _ in range(100):
            if manager.authenticated:
                break
            await asyncio.sleep(0.1)
        if not manager.authenticated:
            manager.close()
            raise RuntimeError("AMI login as tugi failed")
        self.manager = manager

    def _record(self, manager, message) -> None:  # plain function: called in arrival order
        event = {str(k): str(v) for k, v in message.items()}
        with self._lock:
            self.events.append(event)

    def snapshot(self, since: int = 0) -> list[dict[str, str]]:
        with self._lock:
            return list(self.events[since:])

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def start_agi(self, decide: Callable[[str, int], list[str]]) -> None:
        self.agi = StubAgi(self.settings.agi.host, self.settings.agi.port, decide)
        self._submit(self.agi.start())

    def stop_agi(self) -> None:
        if self.agi is not None:
            self._submit(self.agi.stop())
            self.agi = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_agi()
        if self.manager is not None:
            self.loop.call_soon_threadsafe(self.manager.close)
        time.sleep(0.2)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class StubAgi:
    """The smallest FastAGI server that plays Tugi's part in [tugi-route]'s step loop."""

    def __init__(self, host: str, port: int, decide: Callable[[str, int], list[str]]) -> None:
        self.host, self.port, self.decide = host, port, decide
        self.server: asyncio.base_events.Server | None = None
        self.requests: list[tuple[str, int]] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        try:
            while True:
                line = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                env[key.strip()] = value.strip()
            kind, step = env.get("agi_arg_1", ""), int(env.get("agi_arg_2", "0") or 0)
            self.requests.append((kind, step))
            for command in self.decide(kind, step):
                writer.write(command.encode() + b"\n")
                await writer.drain()
                reply = (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
                if not reply.startswith("200"):
                    log.warning("AGI %r answered %r", command, reply)
        finally:
            writer.close()


def agi_dial(target: str, ring: int, route: str) -> list[str]:
    return [
        f"EXEC CELGenUserEvent TUGI_ROUTE,{route}",
        f'SET VARIABLE TUGI_ANSWER "dial,{target},{ring}"',
    ]


def agi_hangup(cause: int, refused: str | None = None) -> list[str]:
    commands = [f"EXEC CELGenUserEvent TUGI_REFUSED,{refused}"] if refused else []
    return [*commands, f'SET VARIABLE TUGI_ANSWER "hangup,{cause}"']


# ------------------------------------------------------------------------------------ scenarios


@dataclass
class Phones:
    alice: object
    bob: object
    carol: object
    carrier: object       # the carrier trunk: customers and couriers (127.0.0.2)
    outsourced: object    # the outsourced call centre (127.0.0.3)


def _pause(seconds: float) -> None:
    time.sleep(seconds)


def _transferer_hangs_up(*calls) -> None:
    """pjsua2 keeps the transferer's calls up after the final NOTIFY; a desk phone hangs up."""
    _pause(1.0)
    for call in calls:
        if not call.disconnected:
            call.hangup()
        call.wait_disconnected()


def _unhold(call) -> None:
    """Take a call off hold. `PhoneCall.unhold` re-INVITEs with `CallOpParam()`, which carries no
    audio stream, and Asterisk answers 488; `CallOpParam(True)` keeps the call's media."""
    import pjsua2 as pj

    def reinvite(pj_call) -> None:
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        pj_call.reinvite(prm)

    call._do(reinvite)


def scenario_internal_answered(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(1.0)
    ring.answer()
    out.wait_confirmed()
    _pause(2.0)
    out.hangup()
    ring.wait_disconnected()


def scenario_internal_no_answer(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    out.wait_disconnected(timeout=15)   # team_ring_seconds = 6
    ring.wait_disconnected()


def scenario_internal_busy(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(1.0)
    ring.reject(486)
    out.wait_disconnected()


def scenario_internal_abandoned(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(2.0)
    out.hangup()
    ring.wait_disconnected()


def scenario_blind_transfer(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(1.0)
    ring.answer()
    out.wait_confirmed()
    _pause(1.5)
    ring.transfer(f"sip:203@127.0.0.1:{SIP_PORT}")
    third = p.carol.wait_incoming()
    _pause(1.0)
    third.answer()
    third.wait_confirmed()
    _transferer_hangs_up(ring)
    _pause(2.0)
    out.hangup()
    third.wait_disconnected()


def scenario_attended_transfer(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(1.0)
    ring.answer()
    out.wait_confirmed()
    _pause(1.5)
    ring.hold()
    _pause(1.0)
    consult = p.bob.call("203")
    third = p.carol.wait_incoming()
    _pause(1.0)
    third.answer()
    consult.wait_confirmed()
    _pause(1.5)
    ring.transfer_to_call(consult)
    _transferer_hangs_up(ring, consult)
    _pause(2.0)
    third.hangup()
    out.wait_disconnected()


def scenario_two_simultaneous(p: Phones, rec: CelRecorder) -> None:
    first = p.alice.call("202")
    ring1 = p.bob.wait_incoming()
    _pause(0.5)
    second = p.carrier.call(SHOP_NUMBER)          # a customer; nobody routes it: outsourced
    ring2 = p.outsourced.wait_incoming()
    _pause(0.5)
    ring1.answer()
    first.wait_confirmed()
    _pause(0.5)
    ring2.answer()
    second.wait_confirmed()
    _pause(1.5)
    first.hangup()
    ring1.wait_disconnected()
    _pause(1.0)
    second.hangup()
    ring2.wait_disconnected()


def scenario_hold_unhold(p: Phones, rec: CelRecorder) -> None:
    out = p.alice.call("202")
    ring = p.bob.wait_incoming()
    _pause(1.0)
    ring.answer()
    out.wait_confirmed()
    _pause(1.0)
    ring.hold()
    _pause(2.0)
    _unhold(ring)
    _pause(1.0)
    ring.hangup()
    out.wait_disconnected()


def scenario_inbound_outsourced(p: Phones, rec: CelRecorder) -> None:
    """Tugi is down: a customer's call goes to the outsourced centre (failsafe)."""
    out = p.carrier.call(SHOP_NUMBER)
    ring = p.outsourced.wait_incoming()
    _pause(1.0)
    ring.answer()
    out.wait_confirmed()
    _pause(2.0)
    out.hangup()
    ring.wait_disconnected()


def scenario_masked_failsafe(p: Phones, rec: CelRecorder) -> None:
    """Tugi is down: a call to a proxy number learns nothing (answer, announcement, hang up)."""
    out = p.carrier.call(PROXY_NUMBER)
    out.wait_disconnected(timeout=20)


def _routed(kind_steps: dict[str, list[list[str]]]) -> Callable[[str, int], list[str]]:
    def decide(kind: str, step: int) -> list[str]:
        steps = kind_steps.get(kind, [])
        return steps[step] if step < len(steps) else agi_hangup(16)

    return decide


def scenario_inbound_failover(p: Phones, rec: CelRecorder) -> None:
    """Routed by Tugi: the salesperson first (busy), then the team rings all; Carol answers."""
    rec.start_agi(
        _routed({"inbound": [agi_dial("PJSIP/bob", 6, "person:bob"), agi_dial("PJSIP/carol&PJSIP/alice", 6, "team")]})
    )
    try:
        out = p.carrier.call(SHOP_NUMBER)
        ring = p.bob.wait_incoming()
        _pause(1.0)
        ring.reject(486)
        ring_c = p.carol.wait_incoming()
        ring_a = p.alice.wait_incoming()
        _pause(1.5)
        ring_c.answer()
        out.wait_confirmed()
        ring_a.wait_disconnected()
        _pause(2.0)
        out.hangup()
        ring_c.wait_disconnected()
    finally:
        rec.stop_agi()


def scenario_outbound_answered(p: Phones, rec: CelRecorder) -> None:
    """Routed by Tugi: Alice calls a customer out through the carrier."""
    rec.start_agi(_routed({"outbound": [agi_dial(f"PJSIP/{CUSTOMER_NUMBER}@carrier", 30, "outbound")]}))
    try:
        out = p.alice.call(CUSTOMER_NUMBER)
        ring = p.carrier.wait_incoming()
        _pause(1.0)
        ring.answer()
        out.wait_confirmed()
        _pause(2.0)
        ring.hangup()
        out.wait_disconnected()
    finally:
        rec.stop_agi()


def scenario_masked_refused(p: Phones, rec: CelRecorder) -> None:
    """Routed by Tugi: a stranger calls a proxy number; Tugi refuses it."""
    rec.start_agi(_routed({"masked": [agi_hangup(21, refused="no_session")]}))
    try:
        p.carrier.call(PROXY_NUMBER).wait_disconnected()
    finally:
        rec.stop_agi()


SCENARIOS: dict[str, Callable[[Phones, CelRecorder], None]] = {
    "internal_answered": scenario_internal_answered,
    "internal_no_answer": scenario_internal_no_answer,
    "internal_busy": scenario_internal_busy,
    "internal_abandoned": scenario_internal_abandoned,
    "blind_transfer": scenario_blind_transfer,
    "attended_transfer": scenario_attended_transfer,
    "two_simultaneous": scenario_two_simultaneous,
    "hold_unhold": scenario_hold_unhold,
    "inbound_outsourced": scenario_inbound_outsourced,
    "masked_failsafe": scenario_masked_failsafe,
    "inbound_failover": scenario_inbound_failover,
    "outbound_answered": scenario_outbound_answered,
    "masked_refused": scenario_masked_refused,
}


# ------------------------------------------------------------------------------------ the run


def _wait_idle(pbx, rec: CelRecorder, since: int, timeout: float = 30.0) -> None:
    """Until no channel is up and every linked id seen since `since` has had its LINKEDID_END."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = rec.snapshot(since)
        linked = {e.get("LinkedID") for e in events if e.get("Event") == "CEL"}
        ended = {e.get("LinkedID") for e in events if e.get("EventName") == "LINKEDID_END"}
        idle = pbx.cli("core show channels count").startswith("0 active channels")
        if idle and linked <= ended:
            time.sleep(0.3)
            return
        time.sleep(0.2)
    raise RuntimeError(f"calls did not end within {timeout:.0f} s: {pbx.cli('core show channels')}")


def run_capture(outdir: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    from tests.support.sip import SipAgent
    from tugi.local_asterisk import LocalAsterisk, ensure_root

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = names or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    settings = capture_settings()
    pbx = LocalAsterisk(settings, name=f"celcap-{os.getpid()}-{uuid.uuid4().hex[:6]}", root=ensure_root())
    written: dict[str, Path] = {}
    rec: CelRecorder | None = None
    agent = None
    try:
        # cel_custom writes into <astlogdir>/cel-custom but never creates it
        (pbx.dir / "log" / "cel-custom").mkdir(parents=True, exist_ok=True)
        pbx.start(extra=extra_files(settings))
        rec = CelRecorder(settings)
        rec.connect()
        agent = SipAgent()
        registrar = f"127.0.0.1:{SIP_PORT}"

        def staff(user: str):
            return agent.phone(user, password=f"test-secret-{user}", registrar=registrar)

        phones = Phones(
            alice=staff("alice"),
            bob=staff("bob"),
            carol=staff("carol"),
            carrier=agent.phone(
                CUSTOMER_NUMBER, register=False, registrar=registrar, bind_ip=shop.CARRIER_IP, bind_port=CARRIER_PORT
            ),
            outsourced=agent.phone(
                settings.outsourced.user,
                register=False,
                registrar=registrar,
                bind_ip=shop.OUTSOURCED_IP,
                bind_port=OUTSOURCED_PORT,
            ),
        )
        for name in names:
            log.info("scenario %s", name)
            start = rec.mark()
            SCENARIOS[name](phones, rec)
            _wait_idle(pbx, rec, start)
            events = rec.snapshot(start)
            path = outdir / f"{name}.txt"
            path.write_text(format_table(events), encoding="ascii")
            written[name] = path
            log.info("  %d events -> %s", len(events), path)
        time.sleep(0.5)
        csv_path = pbx.dir / "log" / "cel-custom" / "Master.csv"
        if csv_path.exists():
            shutil.copyfile(csv_path, outdir / "master.csv")
            written["master.csv"] = outdir / "master.csv"
        else:
            log.warning("cel_custom wrote no %s", csv_path)
    finally:
        if agent is not None:
            agent.close()
        if rec is not None:
            rec.close()
        pbx.stop()
        if os.environ.get("TUGI_KEEP_PBX_RUNS") != "1":
            shutil.rmtree(pbx.dir, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("scenarios:", ", ".join(SCENARIOS))
        return 0 if argv else 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    written = run_capture(argv[0], argv[1:] or None)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
