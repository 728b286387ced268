"""Demo phones: a softphone for every staff member, so `tugi up` can be tried with no desk phone.

    phones = start_demo_phones(settings)   # registers one SIP account per staff member
    ...
    phones.stop()

Each phone registers to the local Asterisk (`asterisk.sip_bind`:`sip_port`) with the staff
member's own SIP user and secret, rings for about two seconds when called, answers, and plays a
short chime on a loop (or a WAV file) until the caller hangs up — so a browser call from the
widget is answered and heard. Everything binds to the SIP address from the settings (loopback
by default); nothing listens anywhere else.

pjsua2 (PyPI `pjsua2-python`, the `phone` extra) is optional and imported only here, when the
phones start. pjsua2 is not thread-safe and allows one library instance per process, so one
thread owns it all; `stop()` asks it to hang up, unregister and shut down, and waits.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.schema import Settings

log = logging.getLogger("tugi.demo")

# pjsua2's compile-time account limit (PJSUA_MAX_ACC) is 8 per process.
MAX_PHONES = 8
ANSWER_AFTER = 2.0
ANSWER_STAGGER = 0.6
HANG_UP_AFTER = 600.0
# A little chime — C5, E5, G5, then a rest — played on a loop to whoever calls.
CHIME = ((523, 280, 60), (659, 280, 60), (784, 420, 1400))

_running_lock = threading.Lock()
_running: DemoPhones | None = None


class DemoPhonesError(RuntimeError):
    """The demo phones cannot start: pjsua2 is missing, or they are already running."""


@dataclass
class PhoneState:
    staff_id: str
    # phones answer one after another (ANSWER_STAGGER apart), so a call that rings the whole team
    # is answered by one phone and cancelled on the others, instead of answered by all at once
    order: int = 0
    registered: bool = False
    last_code: int = 0
    calls_answered: int = 0


@dataclass
class DemoPhones:
    """The handle `start_demo_phones` returns; `stop()` (or leaving a `with` block) ends it all."""

    settings: Settings
    answer_after: float = ANSWER_AFTER
    hang_up_after: float | None = HANG_UP_AFTER
    wav: Path | None = None
    phones: dict[str, PhoneState] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    _thread: threading.Thread | None = None

    # -- called from any thread
    def wait_registered(self, timeout: float = 10.0) -> bool:
        """True once every phone is registered; False if `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.phones and all(p.registered for p in self.phones.values()):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 15.0) -> None:
        global _running
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("demo phones: pjsua2 did not shut down within %.0f s", timeout)
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> DemoPhones:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the pjsua2 thread
    def _run(self, pj: Any) -> None:
        try:
            runtime = _Runtime(pj, self)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                runtime.ep.libHandleEvents(10)
                runtime.tick()
        except BaseException:
            log.exception("demo phones: the pjsua2 loop failed")
        finally:
            runtime.close()


def _import_pjsua2() -> Any:
    try:
        import pjsua2
    except ImportError as exc:
        raise DemoPhonesError(
            "the demo phones need pjsua2, which is not installed: pip install 'tugi[phone]'"
            " (PyPI package pjsua2-python)"
        ) from exc
    return pjsua2


def _bind_address(settings: Settings) -> str:
    host = settings.asterisk.sip_bind
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return "127.0.0.1" if address.is_unspecified else host


class _Runtime:
    """Everything pjsua2: built, driven and destroyed on the one thread that owns it."""

    def __init__(self, pj: Any, owner: DemoPhones) -> None:
        self.pj = pj
        self.owner = owner
        self.calls: list[Any] = []
        self.accounts: list[Any] = []
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 16
        cfg.uaConfig.userAgent = "Tugi demo phone"
        # pjsua2 stays quiet on the console; registrations and calls are logged here instead
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 0
        cfg.medConfig.noVad = True
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()
        settings = owner.settings
        bind = _bind_address(settings)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = bind
        tcfg.port = 0
        transport = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        registrar = f"{bind}:{settings.asterisk.sip_port}"
        staff = list(settings.staff)
        if len(staff) > MAX_PHONES:
            log.warning(
                "demo phones: pjsua2 allows %d phones per process; starting the first %d of %d staff",
                MAX_PHONES, MAX_PHONES, len(staff),
            )
            staff = staff[:MAX_PHONES]
        account_class = _classes(pj)["account"]
        for order, person in enumerate(staff):
            state = PhoneState(person.id, order)
            owner.phones[person.id] = state
            acfg = pj.AccountConfig()
            name = person.name.replace('"', "'")
            acfg.idUri = f'"{name}" <sip:{person.endpoint}@{registrar}>'
            acfg.regConfig.registrarUri = f"sip:{registrar}"
            acfg.regConfig.timeoutSec = 300
            acfg.sipConfig.transportId = transport
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", person.endpoint, 0, person.secret.get_secret_value())
            )
            acfg.natConfig.contactRewriteUse = 0
            acfg.natConfig.viaRewriteUse = 0
            acfg.natConfig.sdpNatRewriteUse = 0
            acfg.mediaConfig.transportConfig.boundAddress = bind
            acfg.mediaConfig.transportConfig.port = 0
            account = account_class(self, state)
            account.create(acfg)
            self.accounts.append(account)
        log.info("demo phones: %d registering to %s", len(self.accounts), registrar)

    def tick(self) -> None:
        now = time.monotonic()
        for call in list(self.calls):
            if call.done:
                call.release()
                self.calls.remove(call)
                continue
            if call.answer_at is not None and now >= call.answer_at:
                call.answer_at = None
                call.reply(200)
            if call.hang_up_at is not None and now >= call.hang_up_at:
                call.hang_up_at = None
                call.end()

    def close(self) -> None:
        for call in self.calls:
            call.end()
            call.release()
        self.calls.clear()
        for account in self.accounts:
            with contextlib.suppress(self.pj.Error):
                account.shutdown()
        self.accounts.clear()
        gc.collect()
        try:
            self.ep.libDestroy()
        except self.pj.Error:
            log.warning("demo phones: pjsua2 did not shut down cleanly", exc_info=True)
        log.info("demo phones: stopped")


_CLASSES: dict[str, type] = {}


def _classes(pj: Any) -> dict[str, type]:
    """pjsua2's Account and Call, subclassed once pjsua2 is imported (it is optional)."""
    if not _CLASSES:
        _CLASSES["account"] = _account_class(pj)
        _CLASSES["call"] = _call_class(pj)
    return _CLASSES


def _account_class(pj: Any) -> type:
    class _Account(pj.Account):
        def __init__(self, runtime: _Runtime, state: PhoneState) -> None:
            super().__init__()
            self.runtime = runtime
            self.state = state

        def onRegState(self, prm: Any) -> None:
            was = self.state.registered
            self.state.last_code = prm.code
            self.state.registered = prm.code == 200 and prm.expiration > 0
            if self.state.registered and not was:
                log.info("demo phones: %s registered", self.state.staff_id)
            elif prm.code >= 300:
                log.warning("demo phones: %s could not register (%s %s)", self.state.staff_id, prm.code, prm.reason)

        def onIncomingCall(self, prm: Any) -> None:
            call = _classes(pj)["call"](self, prm.callId)
            self.runtime.calls.append(call)
            call.reply(180)
            call.answer_at = time.monotonic() + self.runtime.owner.answer_after + ANSWER_STAGGER * self.state.order
            log.info("demo phones: %s is ringing", self.state.staff_id)

    return _Account


def _call_class(pj: Any) -> type:
    class _Call(pj.Call):
        def __init__(self, account: Any, call_id: int) -> None:
            super().__init__(account, call_id)
            self.account = account
            self.answer_at: float | None = None
            self.hang_up_at: float | None = None
            self.done = False
            self.sound: Any = None

        def reply(self, code: int) -> None:
            prm = pj.CallOpParam()
            prm.statusCode = code
            try:
                self.answer(prm)
            except pj.Error:
                self.done = True

        def end(self) -> None:
            if self.done:
                return
            with contextlib.suppress(pj.Error):
                self.hangup(pj.CallOpParam())

        def onCallState(self, prm: Any) -> None:
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.account.state.calls_answered += 1
                after = self.account.runtime.owner.hang_up_after
                self.hang_up_at = time.monotonic() + after if after else None
                log.info("demo phones: %s answered", self.account.state.staff_id)
            elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                # released by the loop, not here: pjsua2 must not lose the Call inside its own callback
                self.done = True

        def onCallMediaState(self, prm: Any) -> None:
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    if self.sound is None:
                        self.sound = _sound(pj, self.account.runtime.owner.wav)
                    self.sound.startTransmit(self.getAudioMedia(index))

        def release(self) -> None:
            # the call's media is gone once it is disconnected; stop the chime and let both go
            if isinstance(self.sound, pj.ToneGenerator):
                with contextlib.suppress(pj.Error):
                    self.sound.stop()
            self.sound = None

    return _Call


def _sound(pj: Any, wav: Path | None) -> Any:
    """What a demo phone plays: the WAV file given (looped), else the chime."""
    if wav is not None:
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(wav), 0)  # 0: loop
        return player
    tone = pj.ToneGenerator()
    tone.createToneGenerator()
    notes = pj.ToneDescVector()
    for freq, on, off in CHIME:
        desc = pj.ToneDesc()
        desc.freq1 = freq
        desc.freq2 = 0
        desc.on_msec = on
        desc.off_msec = off
        desc.volume = 0
        notes.append(desc)
    tone.play(notes, True)
    return tone


def start_demo_phones(
    settings: Settings,
    *,
    answer_after: float = ANSWER_AFTER,
    hang_up_after: float | None = HANG_UP_AFTER,
    wav: str | Path | None = None,
    wait: float | None = 10.0,
) -> DemoPhones:
    """Register a demo phone for every staff member (at most 8) and return the handle to stop them.

    Each answers `answer_after` seconds after it starts ringing and plays a chime (or `wav`, a
    WAV file, looped); it hangs up after `hang_up_after` seconds if the caller has not. With
    `wait`, blocks until every phone is registered or that many seconds pass (a warning says
    which did not); Asterisk must be running for them to register.
    """
    global _running
    pj = _import_pjsua2()
    if wav is not None and not Path(wav).is_file():
        raise DemoPhonesError(f"the demo phones' sound file {wav} does not exist")
    with _running_lock:
        if _running is not None:
            raise DemoPhonesError("the demo phones are already running in this process (pjsua2 allows one instance)")
        phones = DemoPhones(settings, answer_after, hang_up_after, Path(wav) if wav is not None else None)
        _running = phones
    thread = threading.Thread(target=phones._run, args=(pj,), name="tugi-demo-phones", daemon=True)
    phones._thread = thread
    thread.start()
    phones._ready.wait(15)
    if phones._error is not None:
        phones.stop()
        raise DemoPhonesError(f"the demo phones could not start: {phones._error}") from phones._error
    if wait and not phones.wait_registered(wait):
        missing = sorted(p.staff_id for p in phones.phones.values() if not p.registered)
        log.warning("demo phones: not registered after %.0f s: %s (is Asterisk running?)", wait, ", ".join(missing))
    return phones


__all__ = ["DemoPhones", "DemoPhonesError", "PhoneState", "start_demo_phones"]
