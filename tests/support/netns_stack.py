"""A whole Tugi stack and a headless Chromium, inside a private network namespace, for the widget tests.

    unshare --net --mount --pid --fork --kill-child --mount-proc \\
        python -m tests.support.netns_stack SCENARIO OUTDIR

Run only in a fresh network namespace (it refuses to run where any interface but loopback
exists). It gives the namespace one extra interface, tugi0 with 192.0.2.1, because Asterisk
offers ICE candidates only from non-loopback interfaces; rtp.conf maps that address to
127.0.0.1, so every packet stays on loopback. Then it starts, in this order: its own Asterisk
(an instance folder of its own; the test shop's ports, which is fine in a namespace of its
own), Tugi's engine on a SQLite file, the HTTP API (the engine's, or `web.app.build_app`
served here if the engine does not serve one yet), a small "shop site" on another origin that
serves the demo page, pjsua2 staff phones, and Chromium. It runs one scenario:

    presence   the card shows the person, green; their phone takes a call: red; hang up: green
    call       Call from the browser: the phone rings, answers, media flows both ways; Hang up
    refused    a forged, then an expired, call token: the call is refused and the card says so
    callback   the call-back form: a wrong number is explained; a right one rings staff, then customer
    demo       tugi.demo's phones instead of the test phones: a call to the team is answered, heard

Screenshots of the card go to OUTDIR, with the browser's console and Asterisk's log; the
last line on stdout is one JSON object of what was observed. Everything it started is stopped
before that line is printed.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO / "web" / "static"
ICE_LOCAL = "192.0.2.1"
SHOP_SITE_PORT = 18081
SHOP_SITE = f"http://127.0.0.1:{SHOP_SITE_PORT}"
CUSTOMER_NUMBER = "+372 5123 4567"          # the EE example mobile number; nobody's real phone
CUSTOMER_E164 = "+37251234567"
FORGED_TOKEN = "eyJzIjoidGVzdHNob3AifQ." + "A" * 43
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-proxy-server",
]

log = logging.getLogger("netns_stack")


class ScenarioFailed(AssertionError):
    pass


# ------------------------------------------------------------------ the namespace


def _links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def prepare_namespace() -> list[str]:
    """Loopback up, plus tugi0 (192.0.2.1/32) for Asterisk's ICE candidate; refuse a shared namespace."""
    foreign = [name for name in _links() if name not in ("lo", "tugi0", "tugi1")]
    if foreign:
        raise SystemExit(
            f"netns_stack: this network namespace has interfaces {foreign}; run me inside a private one:"
            " unshare --net --mount --pid --fork --kill-child --mount-proc python -m tests.support.netns_stack ..."
        )
    commands = [["ip", "link", "set", "lo", "up"]]
    if "tugi0" not in _links():
        commands += [
            ["ip", "link", "add", "tugi0", "type", "veth", "peer", "name", "tugi1"],
            ["ip", "addr", "add", f"{ICE_LOCAL}/32", "dev", "tugi0"],
            ["ip", "link", "set", "tugi0", "up"],
            ["ip", "link", "set", "tugi1", "up"],
        ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    return _links()


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    try:
        with _no_proxy_opener().open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ------------------------------------------------------------------ the stack


class Stack:
    """Everything a scenario needs; `close()` stops it all, in reverse order, whatever failed."""

    def __init__(self, scenario: str, outdir: Path) -> None:
        self.scenario = scenario
        self.outdir = outdir
        self.observed: dict[str, Any] = {"scenario": scenario, "screenshots": [], "errors": []}
        self.console: list[str] = []
        self._closers: list[tuple[str, Callable[[], None]]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="tugi-netns-"))
        self.pbx = None
        self.tugi = None
        self.page = None
        self.phones: dict[str, Any] = {}
        self._shots = 0

    # -- start
    def start(self) -> None:
        from config.schema import Settings  # noqa: F401  (import errors surface here, early)
        from tests.support import shop
        from tests.support.engine import EngineThread, FakeClock
        from tugi.local_asterisk import LocalAsterisk, ensure_root

        self.observed["interfaces"] = prepare_namespace()
        os.environ["TUGI_DATA"] = str(self.tmp / "data")
        base = shop.test_settings()
        self.settings = settings = base.model_copy(update={
            "asterisk": base.asterisk.model_copy(update={"ice_host_candidates": {ICE_LOCAL: "127.0.0.1"}}),
            "database": base.database.model_copy(update={"url": f"sqlite:///{self.tmp / 'tugi.sqlite3'}"}),
            "http": base.http.model_copy(update={"allowed_origins": (*base.http.allowed_origins, SHOP_SITE)}),
        })
        self.api = f"http://127.0.0.1:{settings.http.port}"

        name = f"browser-{self.scenario}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pbx = LocalAsterisk(settings, name=name, root=ensure_root())
        self._closers.append(("asterisk", self._stop_pbx))
        self.pbx.start()

        if "cel_csv" in type(settings.asterisk).model_fields and hasattr(self.pbx, "cel_csv"):
            # as tests/conftest.py does: Tugi may read Asterisk's CEL file to reconcile after an outage
            self.settings = settings = settings.model_copy(update={
                "asterisk": settings.asterisk.model_copy(update={"cel_csv": str(self.pbx.cel_csv)}),
            })
        self.clock = FakeClock()
        data_dir = self.tmp / "data"
        if "data_dir" in inspect.signature(EngineThread).parameters:
            self.tugi = EngineThread(settings, self.clock, data_dir)
        else:
            self.tugi = EngineThread(settings, self.clock)
        self._closers.append(("engine", self.tugi.stop))
        self.tugi.start()

        self._start_web()
        self._start_shop_site()
        self._start_phones()
        self._start_browser()

    def _start_web(self) -> None:
        """The engine's HTTP server if it has one; else web.app.build_app served here."""
        try:
            status, _ = http_get(f"{self.api}/api/public/presence", timeout=1.0)
        except OSError:
            status = 0
        if status:
            self.observed["web_app"] = "engine"
        else:
            self.observed["web_app"] = "harness"
            self.web_runner = self.tugi.run(self._serve_web_app())
            self._closers.append(("web app", lambda: self.tugi.run(self.web_runner.cleanup())))
        status, _ = http_get(f"{self.api}/static/tugi-widget.js")
        if status != 200:
            raise ScenarioFailed(
                f"{self.api}/static/tugi-widget.js answered {status}: Tugi's web app must serve web/static at /static"
            )

    async def _serve_web_app(self):
        from web.access import Access
        from web.app import build_app
        from web.keys import ACCESS
        from web.server import start
        from web.services import WebServices

        engine = self.tugi.engine

        async def place_callback(number, staff_id, page_ref, order_ref, /, *, preferred_time=None):
            # CallbackPlacer takes None for "anyone in the team"
            return await engine.callbacks.place(number, None if staff_id == "team" else staff_id, page_ref, order_ref)

        services = WebServices(
            settings=self.settings, history=engine.history, presence=engine.presence, masking=engine.masking,
            tokens=engine.tokens, place_callback=place_callback, clock=engine.clock,
        )
        app = build_app(services)
        if not any(getattr(r, "canonical", "").startswith("/static") for r in app.router.resources()):
            app.router.add_static("/static", STATIC_DIR, name="static")
            app[ACCESS]["static"] = Access.OPEN
            self.observed["static_served_by"] = "harness"
        else:
            self.observed["static_served_by"] = "web.app"
        return await start(app, self.settings.http)

    def _start_shop_site(self) -> None:
        """The shop's own site, on another origin than Tugi's API, as in real life."""

        async def serve():
            from aiohttp import web

            app = web.Application()

            async def demo(_request: web.Request) -> web.FileResponse:
                return web.FileResponse(STATIC_DIR / "demo.html")

            app.router.add_get("/demo.html", demo)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", SHOP_SITE_PORT).start()
            return runner

        runner = self.tugi.run(serve())
        self._closers.append(("shop site", lambda: self.tugi.run(runner.cleanup())))

    def _start_phones(self) -> None:
        from tests.support import shop
        from tests.support.sip import SipAgent

        if self.scenario == "demo":
            # the package's own demo phones, as `tugi up` starts them, instead of the test phones
            from tugi.demo import start_demo_phones

            self.demo = start_demo_phones(self.settings)
            self._closers.append(("demo phones", self.demo.stop))
            self.wait_until(
                lambda: all(self.presence_of(p.id) == "available" for p in self.settings.staff),
                10, "every demo phone registered and available in Tugi's presence",
            )
            return
        self.agent = SipAgent()
        self._closers.append(("pjsua2", self.agent.close))
        registrar = f"127.0.0.1:{shop.SIP_PORT}"
        for staff in self.settings.staff:
            self.phones[staff.id] = self.agent.phone(
                staff.id, password=staff.secret.get_secret_value(), registrar=registrar
            )
        self.wait_until(
            lambda: all(self.presence_of(p.id) == "available" for p in self.settings.staff),
            10, "every staff phone registered and available in Tugi's presence",
        )

    def carrier_phone(self):
        from tests.support import shop

        return self.agent.phone("carrier", bind_ip=shop.CARRIER_IP, bind_port=shop.CARRIER_PORT, register=False)

    def _start_browser(self) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self._closers.append(("playwright", self.playwright.stop))
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        )
        self._closers.append(("chromium", self.browser.close))
        context = self.browser.new_context(viewport={"width": 1000, "height": 760})
        self.page = context.new_page()
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.observed["browser"] = self.browser.version

    # -- helpers for scenarios
    def presence_of(self, staff_id: str) -> str:
        return self.tugi.engine.presence.current().get(staff_id).public_state

    @staticmethod
    def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"timed out after {timeout} s waiting for: {what}")
            time.sleep(0.05)

    def open_card(self, target: str, *, test: bool = True) -> Any:
        query = f"target={target}&page=cart-42&api={self.api}" + ("&test=1" if test else "")
        self.page.goto(f"{SHOP_SITE}/demo.html?{query}")
        card = self.page.locator("div.tugi-widget")
        card.wait_for(timeout=10_000)
        self.card = card
        # every change of the dot, stamped with the wall clock (the phones' times use it too)
        self.page.wait_for_function("() => !!document.querySelector('div.tugi-widget')?.shadowRoot")
        self.page.evaluate(
            """() => {
                const dot = document.querySelector('div.tugi-widget').shadowRoot.querySelector('.dot');
                window.tugiDotLog = [{t: Date.now(), state: dot.dataset.state}];
                new MutationObserver(() => {
                    const last = window.tugiDotLog[window.tugiDotLog.length - 1];
                    const state = dot.dataset.state;
                    if (last.state !== state) window.tugiDotLog.push({t: Date.now(), state});
                }).observe(dot, {attributes: true, attributeFilter: ['data-state']});
            }"""
        )
        return card

    def part(self, selector: str) -> Any:
        return self.card.locator(selector)

    def text(self, selector: str) -> str:
        return self.part(selector).inner_text().strip()

    def wait_dot(self, state: str, timeout: float = 10.0) -> None:
        try:
            self.part(f'.dot[data-state="{state}"]').wait_for(timeout=timeout * 1000)
        except Exception:
            shown = self.part(".dot").get_attribute("data-state")
            raise ScenarioFailed(
                f"the dot never became {state!r} in {timeout} s; it is {shown!r}"
                f" (Tugi's presence: { {p.id: self.presence_of(p.id) for p in self.settings.staff} })"
            ) from None

    def wait_status(self, text: str, timeout: float = 15.0) -> None:
        try:
            self.page.wait_for_function(
                """(want) => document.querySelector('div.tugi-widget').shadowRoot
                    .querySelector('.status').textContent.trim() === want""",
                arg=text, timeout=timeout * 1000,
            )
        except Exception:
            raise ScenarioFailed(f"the card never said {text!r}; it says {self.text('.status')!r}") from None

    def tab_to(self, selector: str, limit: int = 20) -> int:
        """Press Tab from the top of the page until `selector` in the card has focus; return how many."""
        self.page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
        for presses in range(1, limit + 1):
            self.page.keyboard.press("Tab")
            if self.page.evaluate(
                """(selector) => { const host = document.querySelector('div.tugi-widget');
                    return document.activeElement === host && !!host.shadowRoot.activeElement
                        && host.shadowRoot.activeElement.matches(selector); }""",
                selector,
            ):
                return presses
        raise ScenarioFailed(f"{selector} in the card is not reachable with Tab ({limit} presses)")

    def dot_changes(self) -> list[dict[str, Any]]:
        return self.page.evaluate("() => window.tugiDotLog")

    def shot(self, name: str, description: str) -> None:
        self._shots += 1
        path = self.outdir / f"{self.scenario}-{self._shots:02d}-{name}.png"
        self.card.screenshot(path=str(path))
        self.observed["screenshots"].append({"file": path.name, "shows": description})

    def enable_sip_debug(self) -> None:
        self.page.evaluate("() => TugiWidget.JsSIP.debug.enable('JsSIP:*')")

    # -- stop
    def _stop_pbx(self) -> None:
        pid = self.pbx.process.pid if self.pbx.process else None
        with contextlib.suppress(OSError):
            shutil.copyfile(self.pbx.log_file, self.outdir / f"{self.scenario}-asterisk-messages.log")
        self.pbx.stop()
        alive = False
        if pid is not None:
            try:
                os.kill(pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
        self.observed["asterisk_stopped"] = not alive
        if os.environ.get("TUGI_KEEP_PBX_RUNS") != "1":
            shutil.rmtree(self.pbx.dir, ignore_errors=True)

    def close(self) -> None:
        for what, closer in reversed(self._closers):
            try:
                closer()
            except BaseException as exc:  # keep stopping the rest
                self.observed["errors"].append(f"stopping {what}: {type(exc).__name__}: {exc}")
        self._closers.clear()
        (self.outdir / f"{self.scenario}-browser-console.log").write_text("\n".join(self.console) + "\n")
        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ scenarios


def scenario_presence(stack: Stack) -> None:
    """The card names the person, green; a call makes them red within a second; hanging up, green."""
    seen = stack.observed
    stack.open_card("alice")
    stack.wait_dot("available")
    seen["name"] = stack.text(".name")
    seen["dot_initial"] = stack.part(".dot").get_attribute("data-state")
    seen["aria_initial"] = stack.part(".dot").get_attribute("aria-label")
    seen["photo"] = stack.part("img").get_attribute("src")
    seen["photo_loaded"] = stack.page.evaluate(
        "() => document.querySelector('div.tugi-widget').shadowRoot.querySelector('img').naturalWidth > 0"
    )
    stack.shot("available", "Alice Aas, green dot, 'Available', Call button and call-back form")
    page_shot = stack.outdir / "presence-00-demo-page.png"
    stack.page.screenshot(path=str(page_shot), full_page=True)
    stack.observed["screenshots"].insert(0, {
        "file": page_shot.name,
        "shows": "the demo shop page (serif fonts, pink dashed buttons) with the card, untouched by the page's CSS",
    })
    seen["card_font_is_sans"] = "serif" not in stack.page.evaluate(
        """() => getComputedStyle(document.querySelector('div.tugi-widget').shadowRoot
            .querySelector('button.call')).fontFamily.replace('sans-serif', '')"""
    )

    def one_call(label: str) -> None:
        bob, alice = stack.phones["bob"], stack.phones["alice"]
        started = time.time()
        call = bob.call("201")
        ringing = alice.wait_incoming()
        ringing.answer()
        call.wait_confirmed()
        stack.wait_dot("busy", timeout=5)
        # red as soon as the phone rings (ringing counts as busy), so measured from the call's start
        red = next(c["t"] for c in stack.dot_changes() if c["state"] == "busy" and c["t"] >= started * 1000)
        seen[f"{label}_red_delay_s"] = round(red / 1000 - started, 3)
        seen[f"{label}_aria_busy"] = stack.part(".dot").get_attribute("aria-label")
        if label == "first":
            stack.shot("busy", "Alice Aas, red dot, 'Busy right now' (her phone is on a call with Bob)")
        hung_up = time.time()
        call.hangup()
        ringing.wait_disconnected()
        stack.wait_dot("available", timeout=5)
        green = next(
            c["t"] for c in stack.dot_changes() if c["state"] == "available" and c["t"] >= hung_up * 1000
        )
        seen[f"{label}_green_delay_s"] = round(green / 1000 - hung_up, 3)

    one_call("first")
    stack.shot("available-again", "Alice Aas, green again after the call ended")

    # the widget reconnects its presence socket by itself, and changes still arrive over it
    first_socket_closed = stack.page.evaluate(
        """() => new Promise((done) => {
            const widget = window.tugiTestWidget;
            const socket = widget.socket;
            socket.addEventListener('close', () => done(true));
            socket.close();
        })"""
    )
    stack.wait_until(
        lambda: stack.page.evaluate(
            "() => !!window.tugiTestWidget.socket && window.tugiTestWidget.socket.readyState === 1"
        ),
        10, "the widget to reopen its presence WebSocket",
    )
    seen["ws_reconnected"] = bool(first_socket_closed)
    one_call("after_reconnect")

    # nobody left: every phone goes offline, the card turns grey and shows the opening hours
    for phone in stack.phones.values():
        phone.unregister()
    stack.wait_dot("offline", timeout=10)
    stack.part(".hours").wait_for(state="visible", timeout=5_000)
    seen["aria_offline"] = stack.part(".dot").get_attribute("aria-label")
    seen["hours_text"] = stack.text(".hours")
    stack.shot("offline-hours", "Alice Aas offline (grey dot) and nobody else available: today's opening hours shown")
    seen["dot_changes"] = [c["state"] for c in stack.dot_changes()]


def _browser_media_stats(stack: Stack) -> dict[str, Any]:
    return stack.page.evaluate(
        """async () => {
            const pc = window.tugiTestWidget.pc;
            if (!pc) return {error: 'no peer connection'};
            const report = await pc.getStats();
            const out = {ice: pc.iceConnectionState, connection: pc.connectionState};
            const byId = {};
            report.forEach((s) => { byId[s.id] = s; });
            report.forEach((s) => {
                if (s.type === 'inbound-rtp' && s.kind === 'audio') {
                    out.packets_received = s.packetsReceived; out.packets_lost = s.packetsLost;
                    out.codec = byId[s.codecId] ? byId[s.codecId].mimeType : null;
                    out.audio_level = s.audioLevel; out.total_audio_energy = s.totalAudioEnergy;
                }
                if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packets_sent = s.packetsSent;
                if (s.type === 'transport') {
                    out.dtls = s.dtlsState; out.srtp_cipher = s.srtpCipher;
                    const pair = byId[s.selectedCandidatePairId];
                    if (pair) {
                        const local = byId[pair.localCandidateId], remote = byId[pair.remoteCandidateId];
                        const show = (c) => c ? `${c.address}:${c.port} ${c.candidateType}` : null;
                        out.local_candidate = show(local);
                        out.remote_candidate = show(remote);
                    }
                }
            });
            const audio = window.tugiTestWidget.audio;
            out.audio_element_has_stream = !!audio.srcObject;
            out.remote_tracks = audio.srcObject ? audio.srcObject.getAudioTracks().map((t) => t.readyState) : [];
            return out;
        }"""
    )


def scenario_call(stack: Stack) -> None:
    """Call from the browser: rings the person, media both ways, Mute, Hang up; the call's record."""
    seen = stack.observed
    alice = stack.phones["alice"]
    stack.open_card("alice")
    stack.wait_dot("available")
    stack.enable_sip_debug()
    stack.part("button.call").click()
    try:
        ringing = alice.wait_incoming(timeout=20)
    except AssertionError:
        seen["browser_media"] = _browser_media_stats(stack)
        seen["card_status"] = stack.text(".status")
        raise
    seen["phone_rang"] = True
    seen["caller_name_on_phone"] = ringing.caller_name
    seen["status_while_ringing"] = stack.text(".status")
    stack.shot("calling", "'Calling…' while Alice's phone rings; Hang up button shown")
    ringing.answer()
    ringing.wait_confirmed()
    stack.wait_status("Connected", timeout=10)
    seen["status_connected"] = stack.text(".status")
    stack.shot("connected", "'Connected' during the call; Mute and Hang up buttons")
    time.sleep(3.0)
    seen["phone_rx_packets_3s"] = ringing.rx_packets()
    seen["browser_media"] = _browser_media_stats(stack)
    stack.part("button.mute").click()
    seen["mute_pressed"] = stack.part("button.mute").get_attribute("aria-pressed")
    seen["status_muted"] = stack.text(".status")
    stack.shot("muted", "Mute pressed (highlighted, aria-pressed=true); the status says the microphone is muted")
    stack.part("button.mute").click()
    seen["unmute_pressed"] = stack.part("button.mute").get_attribute("aria-pressed")
    # Hang up by keyboard: focus is on the card's Mute button; Tab to Hang up, Enter
    stack.part("button.mute").focus()
    stack.page.keyboard.press("Tab")
    seen["focus_after_tab"] = stack.page.evaluate(
        "() => document.querySelector('div.tugi-widget').shadowRoot.activeElement?.className"
    )
    stack.page.keyboard.press("Enter")
    ringing.wait_disconnected(timeout=10)
    seen["phone_states"] = ringing.seen.states
    seen["phone_disconnected"] = "DISCONNECTED" in ringing.seen.states
    stack.wait_status("Call ended", timeout=10)
    seen["status_after"] = stack.text(".status")
    seen["call_button_back"] = stack.part("button.call").is_visible()
    seen["focus_after_call"] = stack.page.evaluate(
        "() => document.querySelector('div.tugi-widget').shadowRoot.activeElement?.className"
    )
    stack.shot("ended", "'Call ended'; the Call button is back")

    engine = stack.tugi.engine
    notes = [n for n in engine.routes.notes.values() if n.kind == "web"]
    seen["routing_note"] = (
        {"kind": notes[-1].kind, "page_ref": notes[-1].page_ref, "route": notes[-1].route,
         "targets_tried": notes[-1].targets_tried, "refused": notes[-1].refused}
        if notes else None
    )
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not records:
        # EngineThread.calls() flushes the record writer first, where it has one
        records = stack.tugi.calls(channel="web") if hasattr(stack.tugi, "calls") else (
            engine.history.list_calls(channel="web")
        )
        if not records:
            time.sleep(0.25)
    seen["history_records"] = [
        {k: r[k] for k in ("channel", "page_ref", "answered_by", "disposition", "talk_seconds")} for r in records
    ]


def scenario_refused(stack: Stack) -> None:
    """A forged and an expired token: no phone rings, the card says the call was refused."""
    seen = stack.observed
    stack.open_card("bob")
    stack.wait_dot("available")
    stack.enable_sip_debug()
    engine = stack.tugi.engine
    expired, _ = engine.tokens.issue("bob", "cart-42", stack.clock() - timedelta(minutes=10))
    for label, token in (("forged", FORGED_TOKEN), ("expired", expired)):
        stack.page.evaluate("(token) => { window.tugiTestForceToken = token; }", token)
        stack.console.append(f"--- {label} token")
        # by keyboard alone: Tab from the top of the page to the Call button, then Enter
        seen[f"{label}_tab_presses"] = stack.tab_to("button.call")
        stack.page.keyboard.press("Enter")
        stack.wait_status("Call refused — please try again", timeout=15)
        seen[f"{label}_status"] = stack.text(".status")
        seen[f"{label}_call_state"] = stack.card.get_attribute("data-call-state")
        try:
            stack.phones["bob"].expect_no_call(0.5)
            seen[f"{label}_phone_rang"] = False
        except AssertionError:
            seen[f"{label}_phone_rang"] = True
        stack.shot(label, f"'Call refused — please try again' after a call with a {label} token")
    seen["sip_final_responses"] = sorted({
        line.split("SIP/2.0 ", 1)[1][:3]
        for line in stack.console if "SIP/2.0 4" in line or "SIP/2.0 6" in line
    })
    seen["refused_notes"] = sum(1 for n in engine.routes.notes.values() if n.refused == "bad_token")


def scenario_callback(stack: Stack) -> None:
    """The call-back form: a wrong number gets the server's message; a right one rings staff, then customer."""
    seen = stack.observed
    carrier = stack.carrier_phone()
    carol = stack.phones["carol"]
    stack.open_card("carol")
    stack.wait_dot("available")
    number = stack.part("input[name=number]")
    seen["label"] = stack.page.evaluate(
        """() => { const r = document.querySelector('div.tugi-widget').shadowRoot;
                   return r.querySelector('label[for=tugi-number]').textContent; }"""
    )
    number.fill("12")
    number.press("Enter")
    stack.part(".field-error").wait_for(state="visible", timeout=10_000)
    seen["invalid_message"] = stack.text(".field-error")
    seen["invalid_aria"] = number.get_attribute("aria-invalid")
    seen["invalid_focus_on_field"] = stack.page.evaluate(
        "() => document.querySelector('div.tugi-widget').shadowRoot.activeElement?.name === 'number'"
    )
    stack.shot("invalid-number", "the server's message next to the number field after '12' was sent")
    number.fill(CUSTOMER_NUMBER)
    stack.part("form button[type=submit]").click()
    requested = time.time()
    stack.page.wait_for_function(
        "() => document.querySelector('div.tugi-widget').dataset.callback === 'accepted'", timeout=10_000
    )
    seen["accepted_message"] = stack.text(".callback-status")
    seen["field_error_hidden"] = not stack.part(".field-error").is_visible()
    stack.shot("accepted", "'Thank you — we are calling you back in a moment.' after a valid number")

    staff_leg = carol.wait_incoming(timeout=15)
    staff_rang = time.time()
    seen["staff_caller_name"] = staff_leg.caller_name
    try:
        carrier.expect_no_call(1.0)
        seen["customer_rang_before_staff_answered"] = False
    except AssertionError:
        seen["customer_rang_before_staff_answered"] = True
    staff_leg.answer()
    staff_leg.wait_confirmed()
    staff_answered = time.time()
    customer_leg = carrier.wait_incoming(timeout=15)
    customer_rang = time.time()
    request_line = customer_leg.seen.invite.split("\r\n", 1)[0]
    seen["customer_request_uri_has_number"] = CUSTOMER_E164 in request_line
    seen["customer_sees_shop_number"] = customer_leg.caller_id == stack.settings.carrier.main_number
    customer_leg.answer()
    customer_leg.wait_confirmed()
    time.sleep(1.5)
    seen["customer_rx_packets"] = customer_leg.rx_packets()
    customer_leg.hangup()
    staff_leg.wait_disconnected(timeout=10)
    seen["order"] = ["staff rang", "staff answered", "customer rang"]
    seen["staff_rang_after_s"] = round(staff_rang - requested, 3)
    seen["customer_rang_after_staff_answer_s"] = round(customer_rang - staff_answered, 3)
    seen["in_order"] = requested < staff_rang < staff_answered < customer_rang


def scenario_demo(stack: Stack) -> None:
    """`tugi.demo` phones: a browser call to the team is answered after about 2 s, and the chime is heard."""
    seen = stack.observed
    stack.open_card("team")
    stack.wait_dot("available")
    seen["name"] = stack.text(".name")
    seen["photo"] = stack.part("img").get_attribute("src")
    stack.part("button.call").click()
    clicked = time.time()
    stack.wait_status("Connected", timeout=20)
    seen["answered_after_s"] = round(time.time() - clicked, 2)
    stack.shot("connected", "the team card, 'Connected' to a demo phone that answered by itself")
    time.sleep(3.0)
    seen["browser_media"] = _browser_media_stats(stack)
    stack.part("button.hangup").click()
    stack.wait_status("Call ended", timeout=10)
    stack.wait_until(lambda: sum(p.calls_answered for p in stack.demo.phones.values()) == 1, 5, "one demo call")
    seen["answered_by"] = [p.staff_id for p in stack.demo.phones.values() if p.calls_answered]
    seen["demo_phones_registered"] = sorted(p.staff_id for p in stack.demo.phones.values() if p.registered)
    stack.demo.stop()
    seen["demo_thread_stopped"] = not stack.demo._thread.is_alive()


SCENARIOS: dict[str, Callable[[Stack], None]] = {
    "presence": scenario_presence,
    "call": scenario_call,
    "refused": scenario_refused,
    "callback": scenario_callback,
    "demo": scenario_demo,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in SCENARIOS:
        print(f"usage: python -m tests.support.netns_stack {{{'|'.join(SCENARIOS)}}} OUTDIR", file=sys.stderr)
        return 2
    scenario, outdir = argv[0], Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(outdir / f"{scenario}-harness.log", mode="w"), logging.StreamHandler(sys.stderr)],
    )
    # a SIGTERM (a test's timeout) unwinds through every `finally`, so Asterisk is stopped cleanly
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = Stack(scenario, outdir)
    started = time.monotonic()
    try:
        stack.start()
        stack.observed["startup_s"] = round(time.monotonic() - started, 1)
        SCENARIOS[scenario](stack)
        stack.observed["ok"] = True
    except BaseException as exc:
        stack.observed["ok"] = False
        stack.observed["failure"] = f"{type(exc).__name__}: {exc}"
        log.error("scenario %s failed:\n%s", scenario, traceback.format_exc())
        if stack.page is not None:
            with contextlib.suppress(Exception):
                path = outdir / f"{scenario}-failure.png"
                stack.page.screenshot(path=str(path))
                stack.observed["screenshots"].append({"file": path.name, "shows": "the whole page at the failure"})
    finally:
        stack.close()
    stack.observed["seconds"] = round(time.monotonic() - started, 1)
    sys.stdout.flush()
    print(json.dumps(stack.observed, default=str), flush=True)
    return 0 if stack.observed["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
