"""Tugi's engine running in a thread of its own, so tests can block on SIP phones freely."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.schema import Settings
from tugi.app import Engine

TALLINN = ZoneInfo("Europe/Tallinn")
# A Wednesday morning: the test shop is open, not a holiday.
OPEN_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=TALLINN)


class FakeClock:
    def __init__(self, now: datetime = OPEN_HOURS) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


class EngineThread:
    def __init__(self, settings: Settings, clock: FakeClock, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tugi-engine", daemon=True)
        self._thread.start()
        self.engine: Engine = self.run(self._build())

    async def _build(self) -> Engine:
        return Engine(self.settings, clock=self.clock, data_dir=self.data_dir)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.run(self.engine.start())
        self.run(self.engine.ami.wait_connected(15))

    def calls(self, **filters: object) -> list[dict]:
        """Calls stored so far, after the recorder and the writer have passed on what they hold."""
        self.run(self.engine.recorder.drain(timeout=10))
        self.run(self.engine.writer.flush(timeout=10))
        return self.engine.history.list_calls(**filters)

    def stop(self) -> None:
        try:
            self.run(self.engine.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
