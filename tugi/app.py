"""The composition root: builds every part from the settings and runs them together.

Nothing else in Tugi constructs a store, a session or a server; each package takes what it
needs as arguments, so tests build the same parts with other settings or a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine as Engine_
from sqlalchemy import create_engine, event

from config.schema import Settings
from history.masking_store import SqlSessionStore
from history.migrate import upgrade
from history.protect import AesGcmProtector
from history.store import HistoryStore
from history.writer import RecordWriter
from masking.crypto import NumberCipher
from masking.service import MaskingService
from pbx_bridge.agi_server import AgiServer
from pbx_bridge.ami_protocol import AmiMessage
from pbx_bridge.ami_session import AmiError, AmiSession, AmiSettings
from pbx_bridge.call_recorder import TRACKED_EVENTS, CallRecorder, Reconciler
from pbx_bridge.call_tokens import CallTokens
from pbx_bridge.callbacks import CallbackError, CallbackPlacer
from pbx_bridge.cel_file import read_since
from pbx_bridge.cel_tracker import CelTracker
from pbx_bridge.presence_feed import PRESENCE_EVENTS, PresenceFeed
from pbx_bridge.route_handler import RouteHandler
from web import server
from web.app import build_app
from web.errors import ApiError
from web.services import WebServices

log = logging.getLogger("tugi")

Clock = Callable[[], datetime]
RECONCILE = "TugiReconcile"  # a message Tugi queues for itself behind the AMI events
# How far before the last reconciliation the CEL file is read again: calls in progress then
# started at most this long before, and their rows from the start are needed to rebuild them.
CEL_REPLAY_MARGIN = timedelta(hours=12)
AMI_EVENTS = PRESENCE_EVENTS | TRACKED_EVENTS  # what the subscribers below read; manager.conf asks for these


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_database_engine(url: str) -> Engine_:
    # A server's connections can be cut under Tugi, so they are pinged before use; a file
    # cannot, and the ping would be one more statement in every transaction.
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        # Erased personal data must not linger in SQLite's free pages.
        @event.listens_for(engine, "connect")
        def _sqlite_settings(connection, _record) -> None:  # type: ignore[no-untyped-def]
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL still never corrupts the file, and a record is already durable
            # in the writer's fsynced spool before it is stored; FULL would add an fsync to every
            # commit, several per finished call.
            connection.execute("PRAGMA synchronous = NORMAL")

    return engine


@dataclass
class Engine:
    """Every long-lived part of a running Tugi, wired once."""

    settings: Settings
    clock: Clock = utc_now
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("TUGI_DATA", ".tugi")))
    ami: AmiSession = field(init=False)
    presence: PresenceFeed = field(init=False)
    routes: RouteHandler = field(init=False)
    agi: AgiServer = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.engine = create_database_engine(s.database.url)
        self.ami = AmiSession(AmiSettings(
            host=s.asterisk.ami_host, port=s.asterisk.ami_port, username=s.asterisk.ami_username,
            secret=s.asterisk.ami_secret.get_secret_value(), events=AMI_EVENTS,
        ))
        self.presence = PresenceFeed(s)
        self.tokens = CallTokens(s.http.token_secret.get_secret_value(), s.shop.id) if s.http.token_secret else None
        self.masking = self._build_masking()
        self.history = self._build_history()
        self.routes = RouteHandler(
            s, presence=self.presence.current, clock=self.clock, tokens=self.tokens, masking=self.masking,
            last_handler=self._last_handler,
        )
        self.callbacks = CallbackPlacer(s, self.ami, self.routes.callbacks, self.presence.current, self.clock)
        self.agi = AgiServer(s.agi.host, s.agi.port)
        self.agi.route("route", self.routes)
        self.writer = RecordWriter(self.history, self.data_dir / "spool")
        self.recorder = CallRecorder(
            CelTracker(s), self.routes.notes, self.writer.submit_many, journal=self._journal
        )
        self.reconciler = Reconciler(
            self.recorder, lambda: CelTracker(s, source="reconciliation"), self._read_cel_file, self._known
        )
        self.ami.subscribe(self.presence.on_event)
        self.ami.subscribe(self._on_event)
        self.ami.on_login(self.presence.resync)
        self.ami.on_login(self._after_login)
        self._tasks: list[asyncio.Task] = []
        self._last_reconciled: datetime | None = None
        self.http_runner = None

    def _build_masking(self):
        key = self.settings.masking.encryption_key
        if not self.settings.masking.pool or key is None:
            return None
        return MaskingService(
            SqlSessionStore(self.engine), self.settings, self.clock, NumberCipher(key.get_secret_value()),
            on_refusal=lambda refusal: log.info(
                "masked call refused: %s (proxy %s)", refusal.code, refusal.proxy_number or "-"
            ),
        )

    def _build_history(self):
        key = self.settings.database.encryption_key
        secret = key.get_secret_value() if key else self._local_key("history.key")
        return HistoryStore(self.engine, AesGcmProtector(secret))

    def _local_key(self, name: str) -> str:
        """A random key kept in the data folder (mode 0600), for installs that set none."""
        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
            log.warning("no database.encryption_key configured; generated %s — back it up", path)
        return path.read_text().strip()

    async def _on_event(self, event) -> None:
        if event.get("Event") == RECONCILE:
            await self.reconciler.run(set(event.get("Live", "").split()))
        else:
            await self.recorder.on_event(event)

    async def _after_login(self, session: AmiSession) -> None:
        """Queue a reconciliation behind the events received so far (see `Reconciler`)."""
        if not self.settings.asterisk.cel_csv:
            return
        try:
            channels = await session.send_list({"Action": "CoreShowChannels"})
        except AmiError as exc:
            log.warning("reconciliation skipped: cannot list live channels (%s)", exc)
            return
        live = " ".join(c.get("Uniqueid", "") for c in channels)
        session.inject(AmiMessage({"Event": RECONCILE, "Live": live}))

    def _read_cel_file(self) -> list[str]:
        """Asterisk's CEL rows from a while before the last reconciliation (or, on the first,
        before the newest stored call): enough for every call that was in progress then."""
        path = Path(self.settings.asterisk.cel_csv or "")
        started = datetime.now(UTC)  # the file's clock, which is the PBX's, never an injected one
        anchor = self._last_reconciled
        if anchor is None:
            try:
                anchor = self.history.latest_call_start()
            except Exception as exc:  # the database is down: read the whole file, as a first run would
                log.warning("reconciliation reads the whole CEL file: %s", exc)
        since = (anchor - CEL_REPLAY_MARGIN).timestamp() if anchor is not None else None
        try:
            lines = read_since(path, since)
            self._last_reconciled = started
            return lines
        except FileNotFoundError:
            return []  # Asterisk writes it with the first call
        except OSError as exc:
            log.warning("cannot read Asterisk's CEL file %s: %s", path, exc.strerror)
            return []

    async def _known(self, uniqueids: set[str]) -> set[str]:
        return await asyncio.to_thread(self.history.known_uniqueids, uniqueids)

    async def _journal(self, calls: list[tuple[str, list[dict[str, str]]]]) -> None:
        await asyncio.to_thread(self.history.append_events_many, calls)

    async def _last_handler(self, number: str) -> str | None:
        return await asyncio.to_thread(self.history.last_handler, None, number)

    async def start(self) -> None:
        await asyncio.to_thread(upgrade, self.settings.database.url)
        await self.writer.start()
        await self.agi.start()
        await self.ami.start()
        await self._start_http()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))

    async def _start_http(self) -> None:
        services = WebServices(
            settings=self.settings, history=self.history, presence=self.presence, masking=self.masking,
            tokens=self.tokens, place_callback=self._request_callback, clock=self.clock,
        )
        self.http_runner = await server.start(build_app(services), self.settings.http)
        log.info("HTTP API on http://%s:%s/api/ (OpenAPI at /api/openapi.json)",
                 self.settings.http.host, self.settings.http.port)

    async def _request_callback(self, *args, **kwargs) -> str:
        try:
            return await self.callbacks.request(*args, **kwargs)
        except CallbackError as exc:
            raise ApiError(503, f"Sorry, {exc}.") from None

    async def _housekeeping(self, every: float = 60.0) -> None:
        """Expire delivery sessions past their time, purge closed ones and old raw events."""
        while True:
            try:
                if self.masking is not None:
                    done = await asyncio.to_thread(self.masking.expire_and_purge, self.clock())
                    if done.expired or done.purged:
                        log.info("masking: %d sessions expired, %d purged", done.expired, done.purged)
                # The raw event journal holds numbers in clear: keep it only as long as closed
                # masking sessions keep theirs.
                horizon = timedelta(days=max(1, self.settings.masking.retention_days))
                await asyncio.to_thread(self.history.purge_journal, horizon)
            except Exception:
                log.warning("housekeeping failed; will retry", exc_info=True)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        if self.http_runner is not None:
            await self.http_runner.cleanup()
        await self.ami.stop()
        await self.agi.stop()
        await self.recorder.stop()
        with contextlib.suppress(TimeoutError):
            await self.writer.flush(timeout=5)
        await self.writer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.engine.dispose()


async def run_forever(settings: Settings, stop: asyncio.Event) -> None:
    engine = Engine(settings)
    await engine.start()
    log.info("Tugi is running for %s", settings.shop.name)
    try:
        await stop.wait()
    finally:
        await engine.stop()
