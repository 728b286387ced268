"""Real SIP phones for the tests, on pjsua2 — staff desk phones, customers, couriers, trunks.

pjsua2 allows one library instance per process and is not thread-safe, so one `SipAgent`
thread owns it: it pumps `libHandleEvents` and runs every pjsua2 call the tests make, which
reach it as closures on a queue. Tests (sync or asyncio) talk to `SipPhone`/`PhoneCall`
objects whose methods wait on plain `threading` primitives, never on pjsua2 directly.

Every socket is bound to a loopback address; nothing is sent anywhere else.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj

DEFAULT_TIMEOUT = 10.0


class SipTestError(AssertionError):
    pass


@dataclass
class Seen:
    """What a call saw, for assertions."""

    states: list[str] = field(default_factory=list)
    invite: str = ""                  # raw text of the INVITE this phone received (incoming calls)
    headers: dict[str, list[str]] = field(default_factory=dict)
    remote_uri: str = ""
    remote_contact: str = ""
    last_status: int = 0
    dtmf: str = ""
    media_active: bool = False


def parse_headers(message: str) -> dict[str, list[str]]:
    head = message.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    headers: dict[str, list[str]] = {}
    for line in head.split("\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return headers


class SipAgent:
    """The one pjsua2 endpoint of this process, driven from its own thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], queue.Queue]] = queue.Queue()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._transports: dict[tuple[str, int], int] = {}
        self.phones: list[SipPhone] = []
        self._thread = threading.Thread(target=self._run, name="pjsua2", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error:
            raise self._error

    # -- the pjsua2 thread
    def _run(self) -> None:
        try:
            self.ep = pj.Endpoint()
            self.ep.libCreate()
            cfg = pj.EpConfig()
            cfg.uaConfig.threadCnt = 0
            cfg.uaConfig.mainThreadOnly = True
            cfg.uaConfig.maxCalls = 32
            cfg.uaConfig.userAgent = "Tugi test phone"
            cfg.logConfig.level = 1
            cfg.logConfig.consoleLevel = 1
            cfg.medConfig.noVad = True
            self.ep.libInit(cfg)
            self.ep.audDevManager().setNullDev()
            self.ep.libStart()
        except BaseException as exc:  # surfaced to the constructor
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stop.is_set():
            try:
                while True:
                    job, reply = self._jobs.get_nowait()
                    try:
                        reply.put((True, job()))
                    except BaseException as exc:
                        reply.put((False, exc))
            except queue.Empty:
                pass
            self.ep.libHandleEvents(5)
            for phone in list(self.phones):
                phone._pump_auto_answer()
        self._shutdown()

    def _shutdown(self) -> None:
        for phone in self.phones:
            phone._close_in_thread()
        self.phones.clear()
        gc.collect()
        self.ep.libDestroy()

    # -- called from test threads
    def run(self, job: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT) -> Any:
        if threading.current_thread() is self._thread:
            return job()
        reply: queue.Queue = queue.Queue()
        self._jobs.put((job, reply))
        ok, value = reply.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def transport(self, ip: str, port: int = 0) -> int:
        key = (ip, port)
        if key not in self._transports:
            def create() -> int:
                tcfg = pj.TransportConfig()
                tcfg.port = port
                tcfg.boundAddress = ip
                tcfg.publicAddress = ip
                return self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)

            self._transports[key] = self.run(create)
        return self._transports[key]

    def phone(self, user: str, **kwargs: Any) -> SipPhone:
        return SipPhone(self, user, **kwargs)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)


class _Account(pj.Account):
    def __init__(self, phone: SipPhone) -> None:
        super().__init__()
        self.phone = phone

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.phone._registered_code = prm.code
        self.phone._reg_changed.set()

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = _Call(self.phone, self, prm.callId)
        handle = PhoneCall(self.phone, call)
        handle.seen.invite = prm.rdata.wholeMsg
        handle.seen.headers = parse_headers(prm.rdata.wholeMsg)
        info = call.getInfo()
        handle.seen.remote_uri = info.remoteUri
        handle.seen.remote_contact = info.remoteContact
        call.handle = handle
        self.phone._track(handle)
        if self.phone.auto_answer is not None:
            ring = pj.CallOpParam()
            ring.statusCode = 180
            call.answer(ring)
            handle._answer_at = time.monotonic() + self.phone.auto_answer
        else:
            ring = pj.CallOpParam()
            ring.statusCode = 180
            call.answer(ring)
        self.phone._incoming.put(handle)


class _Call(pj.Call):
    def __init__(self, phone: SipPhone, account: _Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.phone = phone
        self.handle: PhoneCall | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        handle = self.handle
        if handle is None:
            return
        handle.seen.states.append(info.stateText)
        handle.seen.last_status = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            handle._disconnected.set()
            self.phone._forget(handle)
        handle._changed.set()

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(index)
                if self.phone.tone is not None:
                    self.phone.tone.startTransmit(audio)
                if self.handle:
                    self.handle.seen.media_active = True

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        if self.handle:
            self.handle.seen.dtmf += prm.digit


class PhoneCall:
    """One call on a test phone; every method may be called from any test thread."""

    def __init__(self, phone: SipPhone, call: _Call) -> None:
        self.phone = phone
        self._call: _Call | None = call
        self.seen = Seen()
        self._changed = threading.Event()
        self._disconnected = threading.Event()
        self._answer_at: float | None = None
        self.last_rx_packets = 0

    def _do(self, job: Callable[[_Call], Any]) -> Any:
        def run() -> Any:
            if self._call is None:
                raise SipTestError("the call is already gone")
            return job(self._call)

        return self.phone.agent.run(run)

    def answer(self) -> None:
        def ok(call: _Call) -> None:
            prm = pj.CallOpParam()
            prm.statusCode = 200
            call.answer(prm)

        self._do(ok)

    def reject(self, code: int = 486) -> None:
        def no(call: _Call) -> None:
            prm = pj.CallOpParam()
            prm.statusCode = code
            call.hangup(prm)

        self._do(no)

    def hangup(self) -> None:
        if self._disconnected.is_set():
            return

        def bye(call: _Call) -> None:
            call.hangup(pj.CallOpParam())

        with contextlib.suppress(SipTestError, pj.Error):
            self._do(bye)

    def send_dtmf(self, digits: str) -> None:
        self._do(lambda call: call.dialDtmf(digits))

    def transfer(self, uri: str) -> None:
        """Blind transfer (REFER) to `uri`."""
        self._do(lambda call: call.xfer(uri, pj.CallOpParam()))

    def transfer_to_call(self, other: PhoneCall) -> None:
        """Attended transfer: REFER this call to the party of `other` (Replaces)."""

        def xfer(call: _Call) -> None:
            if other._call is None:
                raise SipTestError("the other call is gone")
            call.xferReplaces(other._call, pj.CallOpParam())

        self._do(xfer)

    def hold(self) -> None:
        self._do(lambda call: call.setHold(pj.CallOpParam()))

    def unhold(self) -> None:
        def reinvite(call: _Call) -> None:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(prm)

        self._do(reinvite)

    def rx_packets(self) -> int:
        """RTP packets received on the audio stream so far."""

        def stat(call: _Call) -> int:
            try:
                return call.getStreamStat(0).rtcp.rxStat.pkt
            except pj.Error:
                return 0

        with contextlib.suppress(SipTestError):
            self.last_rx_packets = self._do(stat)
        return self.last_rx_packets

    @property
    def state(self) -> str:
        return self.seen.states[-1] if self.seen.states else "NULL"

    def wait_state(self, state: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while state not in self.seen.states:
            if time.monotonic() > deadline:
                raise SipTestError(f"{self.phone.user}: call never reached {state}; saw {self.seen.states}")
            self._changed.wait(0.05)
            self._changed.clear()

    def wait_confirmed(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.wait_state("CONFIRMED", timeout)

    def wait_disconnected(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not self._disconnected.wait(timeout):
            raise SipTestError(f"{self.phone.user}: call not disconnected; saw {self.seen.states}")

    @property
    def disconnected(self) -> bool:
        return self._disconnected.is_set()

    @property
    def caller_id(self) -> str:
        """User part of the From header this phone was called with."""
        found = re.search(r"sip:([^@;>]+)@", (self.seen.headers.get("from") or [""])[0])
        return found.group(1) if found else ""

    @property
    def caller_name(self) -> str:
        found = re.match(r'\s*"([^"]*)"', (self.seen.headers.get("from") or [""])[0])
        return found.group(1) if found else ""


class SipPhone:
    """A SIP user agent account: a registered staff phone, or an unregistered trunk party."""

    def __init__(
        self,
        agent: SipAgent,
        user: str,
        *,
        password: str | None = None,
        registrar: str = "127.0.0.1:5060",
        bind_ip: str = "127.0.0.1",
        bind_port: int = 0,
        register: bool = True,
        display: str | None = None,
        auto_answer: float | None = None,
        tone_hz: int | None = 440,
        wait: bool = True,
    ) -> None:
        self.agent = agent
        self.user = user
        self.registrar = registrar
        self.auto_answer = auto_answer
        self._incoming: queue.Queue[PhoneCall] = queue.Queue()
        self._calls: list[PhoneCall] = []
        self._reg_changed = threading.Event()
        self._registered_code = 0
        self.transport_id = agent.transport(bind_ip, bind_port)
        self.bind_ip = bind_ip
        self.tone: Any = None

        def create() -> _Account:
            cfg = pj.AccountConfig()
            name = f'"{display}" ' if display else ""
            cfg.idUri = f"{name}<sip:{user}@{registrar if register else bind_ip}>"
            cfg.sipConfig.transportId = self.transport_id
            if register:
                cfg.regConfig.registrarUri = f"sip:{registrar}"
                cfg.regConfig.timeoutSec = 300
                cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password or ""))
            else:
                cfg.regConfig.registrarUri = ""
            cfg.natConfig.contactRewriteUse = 0
            cfg.natConfig.viaRewriteUse = 0
            cfg.natConfig.sdpNatRewriteUse = 0
            cfg.mediaConfig.transportConfig.boundAddress = bind_ip
            cfg.mediaConfig.transportConfig.publicAddress = bind_ip
            cfg.mediaConfig.transportConfig.port = 0
            account = _Account(self)
            account.create(cfg)
            if tone_hz:
                tone = pj.ToneGenerator()
                tone.createToneGenerator()
                desc = pj.ToneDesc()
                desc.freq1 = tone_hz
                desc.freq2 = 0
                desc.on_msec = 10000
                desc.off_msec = 0
                vec = pj.ToneDescVector()
                vec.append(desc)
                tone.play(vec, True)
                self.tone = tone
            return account

        self._account = agent.run(create)
        agent.phones.append(self)  # before waiting: a phone that fails to register is still closed
        if register and wait:
            self.wait_registered()

    def _track(self, handle: PhoneCall) -> None:
        self._calls.append(handle)

    def _forget(self, handle: PhoneCall) -> None:
        # Drop pjsua2's Call once disconnected, as pjsua2 requires; keep the handle for asserts.
        handle._call = None
        if handle in self._calls:
            self._calls.remove(handle)

    def wait_registered(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self._registered_code != 200:
            if time.monotonic() > deadline:
                raise SipTestError(f"{self.user} did not register (last code {self._registered_code})")
            self._reg_changed.wait(0.1)
            self._reg_changed.clear()

    def reregister(self) -> None:
        """Register again now (after the PBX restarted) and wait for it."""
        self._registered_code = 0
        self.agent.run(lambda: self._account.setRegistration(True))
        self.wait_registered()

    def unregister(self) -> None:
        self.agent.run(lambda: self._account.setRegistration(False))

    def call(self, target: str, headers: dict[str, str] | None = None) -> PhoneCall:
        """Call `target` (an extension, number, or full SIP URI) through the registrar."""
        uri = target if target.startswith("sip:") else f"sip:{target}@{self.registrar}"

        def make() -> PhoneCall:
            call = _Call(self, self._account)
            handle = PhoneCall(self, call)
            call.handle = handle
            prm = pj.CallOpParam(True)
            for name, value in (headers or {}).items():
                header = pj.SipHeader()
                header.hName = name
                header.hValue = value
                prm.txOption.headers.append(header)
            call.makeCall(uri, prm)
            self._track(handle)
            return handle

        return self.agent.run(make)

    def wait_incoming(self, timeout: float = DEFAULT_TIMEOUT) -> PhoneCall:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._incoming.get(timeout=0.05)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise SipTestError(f"{self.user}: no incoming call within {timeout} s") from None

    def expect_no_call(self, seconds: float) -> None:
        try:
            handle = self._incoming.get(timeout=seconds)
        except queue.Empty:
            return
        raise SipTestError(f"{self.user}: unexpected call from {handle.seen.remote_uri}")

    def _pump_auto_answer(self) -> None:
        for handle in list(self._calls):
            if handle._answer_at is not None and time.monotonic() >= handle._answer_at:
                handle._answer_at = None
                handle.answer()

    def drain(self) -> None:
        """Forget incoming calls nobody picked up from the queue (after a test)."""
        while not self._incoming.empty():
            self._incoming.get_nowait()

    def hangup_all(self) -> None:
        for handle in list(self._calls):
            handle.hangup()

    def close(self) -> None:
        """Hang up, unregister and free this account's slot (pjsua2 has only a few)."""
        if self in self.agent.phones:
            self.agent.phones.remove(self)
            self.agent.run(self._close_in_thread)

    def _close_in_thread(self) -> None:
        for handle in list(self._calls):
            if handle._call is not None:
                with contextlib.suppress(pj.Error):
                    handle._call.hangup(pj.CallOpParam())
                handle._call = None
        self._calls.clear()
        if self.tone is not None:
            self.tone.stop()
            self.tone = None
        with contextlib.suppress(pj.Error):
            self._account.shutdown()
        self._account = None
        gc.collect()
