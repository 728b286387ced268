"""Hand finished calls to the database without ever losing one, even while it is down.

`submit` returns once the record is on disk (a JSON-lines spool, fsynced); one consumer
task then stores records in order, retrying while the database is unreachable. A restart
replays whatever the spool still holds: `HistoryStore.save_call` is idempotent, so a record
stored just before a crash but not yet acknowledged is simply stored again in place.

When calls end faster than they are stored, the records already waiting are stored together
in one transaction (`HistoryStore.save_calls`); should that fail, they are stored one by one
as usual, so an outage or one bad record is handled exactly as without batching.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from history.records import CallRecord
from history.serialize import record_from_dict, record_to_dict

log = logging.getLogger(__name__)

SPOOL_NAME = "calls.jsonl"
REJECTED_NAME = "rejected.jsonl"
# the database cannot be reached: wait and try again, as long as it takes
_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
MAX_BATCH = 50  # records per transaction: bounds how long one transaction holds its row locks


class CallSink(Protocol):
    def save_call(self, record: CallRecord) -> int: ...


@runtime_checkable
class BatchCallSink(CallSink, Protocol):
    def save_calls(self, records: Sequence[CallRecord]) -> list[int]: ...


class RecordWriter:
    """The single consumer between the call tracker and the history database."""

    def __init__(
        self,
        store: CallSink,
        spool_dir: Path,
        retry_seconds: tuple[float, float] = (0.5, 10.0),
        *,
        attempts_on_error: int = 5,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`retry_seconds` is (first, longest) pause between attempts while the database is down.

        Any other database error (a constraint the record breaks, a missing table) is tried
        `attempts_on_error` times, then the record is set aside in `rejected.jsonl` — still on
        disk for an operator — so one bad record cannot hold up every call after it.

        A store that also has `save_calls` gets up to `max_batch` waiting records at a time.
        """
        self._store = store
        self._spool = _Spool(Path(spool_dir))
        self._first_pause, self._longest_pause = retry_seconds
        self._attempts_on_error = attempts_on_error
        self._max_batch = max_batch
        self._batch_store = store if isinstance(store, BatchCallSink) else None
        self._queue: asyncio.Queue[tuple[str, CallRecord]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Records submitted (or replayed) and not yet stored."""
        return self._spool.pending

    async def start(self) -> None:
        """Replay the spool left by the last run, then start storing."""
        if self._task is not None:
            return
        for key, record in await asyncio.to_thread(self._spool.recover):
            self._queue.put_nowait((key, record))
        if not self._queue.empty():
            log.info("history writer: replaying %d call record(s) from the spool", self._queue.qsize())
        self._task = asyncio.create_task(self._run(), name="history-writer")

    async def submit(self, record: CallRecord) -> None:
        """Durably accept a record: on return it is on disk and will reach the database."""
        await self.submit_many([record])

    async def submit_many(self, records: list[CallRecord]) -> None:
        """Durably accept several records with one fsync; on return all are on disk."""
        if self._task is None:
            raise RuntimeError("the history writer is not started; call start() first")
        keyed = [(uuid.uuid4().hex, record) for record in records]
        await asyncio.to_thread(self._spool.append, *keyed)
        for item in keyed:
            self._queue.put_nowait(item)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record submitted so far is stored (or set aside as rejected)."""
        if self._task is None:
            raise RuntimeError("the history writer is not started; call start() first")
        await asyncio.wait_for(self._queue.join(), timeout)

    async def stop(self) -> None:
        """Stop storing; records not yet stored stay in the spool for the next start."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def __aenter__(self) -> RecordWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if len(batch) == 1 or not await self._deliver_together(batch):
                    for key, record in batch:
                        await self._deliver(key, record)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _deliver_together(self, batch: list[tuple[str, CallRecord]]) -> bool:
        """Store waiting records in one transaction; False if that failed, and they must go one by one.

        Saving is idempotent, so a batch whose commit was in doubt does no harm when saved again.
        """
        if self._batch_store is None:
            return False
        try:
            await asyncio.to_thread(self._batch_store.save_calls, [record for _, record in batch])
        except Exception as exc:
            # one by one, each record gets the usual waiting, retries and rejection
            log.debug("history writer: %d records not stored together (%s); storing them one by one",
                      len(batch), _reason(exc))
            return False
        await asyncio.to_thread(self._spool.ack, *(key for key, _ in batch))
        return True

    async def _deliver(self, key: str, record: CallRecord) -> None:
        pause = self._first_pause
        errors = 0
        outage = False
        while True:
            try:
                await asyncio.to_thread(self._store.save_call, record)
            except _UNREACHABLE as exc:
                if not outage:
                    log.warning("history writer: database unreachable (%s); call %s waits in the spool",
                                _reason(exc), record.linkedid)
                    outage = True
            except DBAPIError as exc:
                errors += 1
                if errors >= self._attempts_on_error:
                    await self._reject(key, record, _reason(exc))
                    return
                log.warning("history writer: call %s not stored (%s); will try again", record.linkedid, _reason(exc))
            except Exception as exc:
                # a record the store refuses outright (say, a naive time): retrying cannot help
                await self._reject(key, record, f"{type(exc).__name__}: {exc}")
                return
            else:
                if outage:
                    log.info("history writer: database reachable again")
                await asyncio.to_thread(self._spool.ack, key)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._longest_pause)

    async def _reject(self, key: str, record: CallRecord, reason: str) -> None:
        log.error("history writer: call %s cannot be stored (%s); kept in %s",
                  record.linkedid, reason, self._spool.rejected_path)
        await asyncio.to_thread(self._spool.reject, key, record, reason)


class _Spool:
    """An append-only JSON-lines file: `put` lines for records, `done` lines once stored.

    Only `put` lines are fsynced: losing a `done` line just means storing a record twice,
    which the store turns into one row. The file is emptied whenever nothing is pending, so
    numbers in clear do not linger in it.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / SPOOL_NAME
        self.rejected_path = folder / REJECTED_NAME
        self._folder = folder
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def recover(self) -> list[tuple[str, CallRecord]]:
        """Read what the last run left, and rewrite the file with just that."""
        with self._lock:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            entries, damaged = self._read()
            for line in damaged:
                self._write_rejected({"damaged_spool_line": line, "reason": "damaged spool line"})
            self._rewrite(entries)
            self._pending = set(entries)
            return [(key, record_from_dict(data)) for key, data in entries.items()]

    def append(self, *keyed: tuple[str, CallRecord]) -> None:
        lines = "".join(
            json.dumps({"put": key, "record": record_to_dict(record)}, ensure_ascii=False) + "\n"
            for key, record in keyed
        )
        with self._lock:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _open_private(self.path, "a") as spool:
                spool.write(lines)
                spool.flush()
                os.fsync(spool.fileno())
            self._pending.update(key for key, _ in keyed)

    def ack(self, *keys: str) -> None:
        with self._lock:
            self._pending.difference_update(keys)
            if not self._pending:
                # Emptied in place, with no fsync: should the truncation be lost in a crash,
                # the records come back and are stored again as the same rows. A rewrite-and-
                # rename with two fsyncs here cost more than storing the call (bench/call_setup.py).
                with contextlib.suppress(FileNotFoundError):
                    os.truncate(self.path, 0)
                return
            with _open_private(self.path, "a") as spool:
                spool.write("".join(json.dumps({"done": key}) + "\n" for key in keys))

    def reject(self, key: str, record: CallRecord, reason: str) -> None:
        with self._lock:
            self._write_rejected({"record": record_to_dict(record), "reason": reason})
        self.ack(key)

    def _write_rejected(self, item: dict[str, Any]) -> None:
        with _open_private(self.rejected_path, "a") as rejected:
            rejected.write(json.dumps(item, ensure_ascii=False) + "\n")
            rejected.flush()
            os.fsync(rejected.fileno())

    def _read(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        entries: dict[str, dict[str, Any]] = {}
        damaged: list[str] = []
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return entries, damaged
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
                if "put" in item:
                    record_from_dict(item["record"])
                    entries[item["put"]] = item["record"]
                elif "done" in item:
                    entries.pop(item["done"], None)
            except (ValueError, KeyError, TypeError):
                # a crash mid-write cuts the last line short (that submit never returned);
                # anything else is kept for an operator rather than dropped
                log.error("history writer: %s line %d is damaged; moved to %s", self.path, number, self.rejected_path)
                damaged.append(line)
        return entries, damaged

    def _rewrite(self, entries: dict[str, dict[str, Any]]) -> None:
        """Replace the spool atomically: a crash leaves the old file or the new one, never half."""
        temporary = self.path.with_suffix(".tmp")
        with _open_private(temporary, "w") as spool:
            for key, data in entries.items():
                spool.write(json.dumps({"put": key, "record": data}, ensure_ascii=False) + "\n")
            spool.flush()
            os.fsync(spool.fileno())
        os.replace(temporary, self.path)
        _fsync_dir(self._folder)


def _open_private(path: Path, mode: str) -> IO[str]:
    """Spooled records hold customers' numbers in clear: readable by Tugi's user only."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o600), mode, encoding="utf-8")


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
