"""The record writer: spool first, store in order, wait out a dead database, replay after a restart."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from history import writer as writer_module
from history.records import CallRecord, Channel, Disposition
from history.serialize import record_to_dict
from history.writer import RecordWriter

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def record(linkedid: str) -> CallRecord:
    return CallRecord(linkedid=linkedid, channel=Channel.WEB, started_at=T0, ended_at=T0 + timedelta(seconds=30),
                      disposition=Disposition.ANSWERED, caller_number="+37255512301")


class FakeStore:
    """Stands in for HistoryStore: can be 'down', can refuse, can be held mid-save."""

    def __init__(self) -> None:
        self.saved: list[str] = []
        self.down = False
        self.error: Exception | None = None
        self.attempts = 0
        self.gate = threading.Event()
        self.gate.set()

    def save_call(self, call: CallRecord) -> int:
        self.attempts += 1
        self.gate.wait(10)
        if self.down:
            raise OperationalError("INSERT INTO interaction", {}, ConnectionRefusedError("connection refused"))
        if self.error is not None:
            raise self.error
        self.saved.append(call.linkedid)
        return len(self.saved)


def spool_lines(folder: Path) -> list[dict]:
    path = folder / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_records_are_stored_in_order_and_the_spool_emptied(tmp_path: Path) -> None:
    store = FakeStore()
    async with RecordWriter(store, tmp_path) as writer:
        for n in range(5):
            await writer.submit(record(str(n)))
        await writer.flush(timeout=5)
        assert writer.pending == 0
    assert store.saved == ["0", "1", "2", "3", "4"]
    assert spool_lines(tmp_path) == []


async def test_a_record_is_on_disk_before_the_database_sees_it(tmp_path: Path) -> None:
    store = FakeStore()
    store.gate.clear()  # the database is slow
    async with RecordWriter(store, tmp_path) as writer:
        await writer.submit(record("1"))
        lines = spool_lines(tmp_path)
        assert [line["record"]["linkedid"] for line in lines] == ["1"]
        assert stat.S_IMODE((tmp_path / "calls.jsonl").stat().st_mode) == 0o600  # numbers in clear
        store.gate.set()
        await writer.flush(timeout=5)
    assert store.saved == ["1"]


async def test_submit_before_start_is_a_mistake(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="start"):
        await RecordWriter(FakeStore(), tmp_path).submit(record("1"))


async def test_a_dead_database_is_waited_for_with_capped_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore()
    store.down = True
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 8:
            store.down = False
        await real_sleep(0)

    monkeypatch.setattr(writer_module.asyncio, "sleep", recorded_sleep)
    async with RecordWriter(store, tmp_path, retry_seconds=(0.5, 10.0)) as writer:
        await writer.submit(record("1"))
        await writer.submit(record("2"))
        await writer.flush(timeout=5)
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert store.saved == ["1", "2"]


async def test_records_wait_in_the_spool_while_the_database_is_down(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    async with RecordWriter(store, tmp_path, retry_seconds=(0.01, 0.05)) as writer:
        for n in range(3):
            await writer.submit(record(str(n)))
        await asyncio.sleep(0.2)
        assert store.attempts > 1 and store.saved == []
        assert writer.pending == 3
        with pytest.raises(TimeoutError):
            await writer.flush(timeout=0.1)
        store.down = False
        await writer.flush(timeout=5)
    assert store.saved == ["0", "1", "2"]


async def test_a_restart_replays_what_was_not_stored(tmp_path: Path) -> None:
    store = FakeStore()
    store.down = True
    writer = RecordWriter(store, tmp_path, retry_seconds=(0.01, 0.05))
    await writer.start()
    for n in range(3):
        await writer.submit(record(str(n)))
    await writer.stop()

    fresh = FakeStore()
    async with RecordWriter(fresh, tmp_path) as restarted:
        assert restarted.pending == 3
        await restarted.flush(timeout=5)
    assert fresh.saved == ["0", "1", "2"]
    assert spool_lines(tmp_path) == []


async def test_stored_records_are_not_replayed(tmp_path: Path) -> None:
    lines = [
        {"put": "a", "record": record_to_dict(record("a"))},
        {"put": "b", "record": record_to_dict(record("b"))},
        {"done": "a"},
    ]
    (tmp_path / "calls.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    store = FakeStore()
    async with RecordWriter(store, tmp_path) as writer:
        await writer.flush(timeout=5)
    assert store.saved == ["b"]


async def test_damaged_spool_lines_are_kept_aside_not_lost(tmp_path: Path) -> None:
    good = json.dumps({"put": "a", "record": record_to_dict(record("a"))})
    other = json.dumps({"put": "c", "record": record_to_dict(record("c"))})
    bad_record = json.dumps({"put": "b", "record": {"linkedid": "b"}})
    torn = other[: len(other) // 2]  # a crash in the middle of a write
    (tmp_path / "calls.jsonl").write_text("\n".join([good, "not json", bad_record, other, torn]))
    store = FakeStore()
    async with RecordWriter(store, tmp_path) as writer:
        await writer.flush(timeout=5)
    assert store.saved == ["a", "c"]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [item["damaged_spool_line"] for item in rejected] == ["not json", bad_record, torn]


async def test_a_record_the_database_keeps_refusing_is_set_aside(tmp_path: Path) -> None:
    store = FakeStore()
    store.error = IntegrityError("INSERT", {}, Exception("value too long"))
    async with RecordWriter(store, tmp_path, retry_seconds=(0.001, 0.001), attempts_on_error=3) as writer:
        await writer.submit(record("bad"))
        await writer.flush(timeout=5)
        assert store.attempts == 3
        store.error = None
        await writer.submit(record("good"))
        await writer.flush(timeout=5)
    assert store.saved == ["good"]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert rejected[0]["record"]["linkedid"] == "bad" and "value too long" in rejected[0]["reason"]
    assert spool_lines(tmp_path) == []


async def test_a_record_the_store_refuses_outright_is_set_aside_at_once(tmp_path: Path) -> None:
    store = FakeStore()
    store.error = ValueError("call bad: every time must be timezone-aware")
    async with RecordWriter(store, tmp_path) as writer:
        await writer.submit(record("bad"))
        await writer.flush(timeout=5)
    assert store.attempts == 1
    assert "timezone-aware" in (tmp_path / "rejected.jsonl").read_text()


class FakeBatchStore(FakeStore):
    """A store that also saves several records in one transaction (all or none), like HistoryStore."""

    def __init__(self, bad: str | None = None) -> None:
        super().__init__()
        self.bad = bad
        self.batches: list[list[str]] = []

    def save_call(self, call: CallRecord) -> int:
        if call.linkedid == self.bad:
            raise IntegrityError("INSERT INTO interaction", {}, ValueError("broken record"))
        return super().save_call(call)

    def save_calls(self, calls: list[CallRecord]) -> list[int]:
        if any(c.linkedid == self.bad for c in calls):
            raise IntegrityError("INSERT INTO interaction", {}, ValueError("broken record"))
        self.batches.append([c.linkedid for c in calls])
        self.saved.extend(c.linkedid for c in calls)
        return list(range(len(calls)))


async def test_records_waiting_together_are_stored_in_one_transaction_in_order(tmp_path: Path) -> None:
    store = FakeBatchStore()
    store.gate.clear()  # hold the first save so the rest pile up behind it
    async with RecordWriter(store, tmp_path) as writer:
        for n in range(30):
            await writer.submit(record(str(n)))
        store.gate.set()
        await writer.flush(timeout=5)
    assert store.saved == [str(n) for n in range(30)]
    assert any(len(batch) > 1 for batch in store.batches)
    assert spool_lines(tmp_path) == []


async def test_one_bad_record_in_a_batch_is_set_aside_alone_and_the_others_are_stored(tmp_path: Path) -> None:
    store = FakeBatchStore(bad="3")
    store.gate.clear()
    async with RecordWriter(store, tmp_path, retry_seconds=(0.01, 0.01), attempts_on_error=2) as writer:
        for n in range(8):
            await writer.submit(record(str(n)))
        store.gate.set()
        await writer.flush(timeout=5)
    assert store.saved == [str(n) for n in range(8) if n != 3]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [r["record"]["linkedid"] for r in rejected] == ["3"]
