"""The storage masking needs, stated as a Protocol, and a dictionary-backed one for tests.

A store only ever sees sealed numbers (`*_sealed`, AES-GCM bytes) and blind indexes
(`*_index`, HMAC hex): it can find "the sessions of this caller" but cannot read a number.
"Open" means not closed yet; "live" additionally means not past `expires_at`. Sessions past
their expiry stay open until `close_expired` runs, and lookups must not treat them as live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredSession:
    id: str
    order_ref: str
    case_ref: str | None
    customer_ref: str
    customer_sealed: bytes | None
    customer_index: str | None
    courier_ref: str
    courier_sealed: bytes | None
    courier_index: str | None
    proxy_number: str
    pin: str | None
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    erased: bool

    def is_live(self, at: datetime) -> bool:
        return self.closed_at is None and not self.erased and self.created_at <= at < self.expires_at

    def has_index(self, number_index: str) -> bool:
        return number_index in (self.customer_index, self.courier_index)


class SessionStore(Protocol):
    def add(self, session: StoredSession) -> None:
        """Insert a new session; its id is new."""

    def get(self, session_id: str) -> StoredSession | None: ...

    def update(self, session: StoredSession) -> None:
        """Replace the stored session that has this id."""

    def open_on_proxy(self, number_index: str, proxy_number: str) -> list[StoredSession]:
        """Unclosed sessions on this proxy in which this number takes part, in either role."""

    def last_closed_on_proxy(self, number_index: str, proxy_number: str) -> StoredSession | None:
        """The most recently closed session on this proxy in which this number took part."""

    def proxies_in_use(self, number_indexes: Collection[str], now: datetime) -> set[str]:
        """Proxy numbers of the live sessions in which any of these numbers takes part."""

    def live_pins(self, proxy_number: str, now: datetime) -> set[str]:
        """PINs of the live sessions on this proxy number."""

    def for_order(self, order_ref: str) -> list[StoredSession]:
        """Every session of the order, oldest first."""

    def for_customer(self, customer_ref: str) -> list[StoredSession]:
        """Every session of the customer, oldest first."""

    def close_expired(self, now: datetime) -> int:
        """Close every open session whose expiry has passed, as of its expiry; return how many."""

    def purge_closed_before(self, cutoff: datetime) -> int:
        """Drop sealed numbers and indexes of sessions closed before `cutoff`; mark them erased."""


class InMemorySessionStore:
    """A SessionStore in dictionaries, with the same secondary lookups a database index gives."""

    def __init__(self) -> None:
        self._sessions: dict[str, StoredSession] = {}
        self._by_index: defaultdict[str, set[str]] = defaultdict(set)
        self._by_order: defaultdict[str, set[str]] = defaultdict(set)
        self._by_customer: defaultdict[str, set[str]] = defaultdict(set)
        self._open_by_proxy: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, session: StoredSession) -> None:
        if session.id in self._sessions:
            raise KeyError(f"session {session.id} already exists")
        self._put(session)

    def get(self, session_id: str) -> StoredSession | None:
        return self._sessions.get(session_id)

    def update(self, session: StoredSession) -> None:
        if session.id not in self._sessions:
            raise KeyError(f"session {session.id} does not exist")
        self._drop(self._sessions[session.id])
        self._put(session)

    def open_on_proxy(self, number_index: str, proxy_number: str) -> list[StoredSession]:
        return [
            s for s in self._with_index(number_index) if s.proxy_number == proxy_number and s.closed_at is None
        ]

    def last_closed_on_proxy(self, number_index: str, proxy_number: str) -> StoredSession | None:
        closed = [
            s
            for s in self._with_index(number_index)
            if s.proxy_number == proxy_number and s.closed_at is not None
        ]
        return max(closed, key=lambda s: s.closed_at or s.created_at, default=None)

    def proxies_in_use(self, number_indexes: Collection[str], now: datetime) -> set[str]:
        if isinstance(number_indexes, str):
            raise TypeError("proxies_in_use takes a collection of blind indexes, not one string")
        return {s.proxy_number for index in number_indexes for s in self._with_index(index) if s.is_live(now)}

    def live_pins(self, proxy_number: str, now: datetime) -> set[str]:
        return {
            s.pin
            for s in (self._sessions[i] for i in self._open_by_proxy.get(proxy_number, ()))
            if s.pin is not None and s.is_live(now)
        }

    def for_order(self, order_ref: str) -> list[StoredSession]:
        return self._sorted(self._by_order.get(order_ref, ()))

    def for_customer(self, customer_ref: str) -> list[StoredSession]:
        return self._sorted(self._by_customer.get(customer_ref, ()))

    def close_expired(self, now: datetime) -> int:
        due = [
            self._sessions[i]
            for ids in self._open_by_proxy.values()
            for i in ids
            if self._sessions[i].expires_at <= now
        ]
        for session in due:
            self.update(replace(session, closed_at=session.expires_at))
        return len(due)

    def purge_closed_before(self, cutoff: datetime) -> int:
        due = [
            s
            for s in self._sessions.values()
            if s.closed_at is not None and s.closed_at < cutoff and not s.erased
        ]
        for session in due:
            self.update(
                replace(
                    session,
                    customer_sealed=None,
                    customer_index=None,
                    courier_sealed=None,
                    courier_index=None,
                    erased=True,
                )
            )
        return len(due)

    def all(self) -> list[StoredSession]:
        """Every stored session, for tests that inspect what was kept."""
        return self._sorted(self._sessions)

    def _with_index(self, number_index: str) -> list[StoredSession]:
        return [self._sessions[i] for i in self._by_index.get(number_index, ())]

    def _sorted(self, ids: Iterable[str]) -> list[StoredSession]:
        return sorted((self._sessions[i] for i in ids), key=lambda s: (s.created_at, s.id))

    def _put(self, session: StoredSession) -> None:
        self._sessions[session.id] = session
        for index in (session.customer_index, session.courier_index):
            if index is not None:
                self._by_index[index].add(session.id)
        self._by_order[session.order_ref].add(session.id)
        self._by_customer[session.customer_ref].add(session.id)
        if session.closed_at is None:
            self._open_by_proxy[session.proxy_number].add(session.id)

    def _drop(self, session: StoredSession) -> None:
        for index in (session.customer_index, session.courier_index):
            if index is not None:
                self._by_index[index].discard(session.id)
                if not self._by_index[index]:
                    del self._by_index[index]
        self._by_order[session.order_ref].discard(session.id)
        self._by_customer[session.customer_ref].discard(session.id)
        self._open_by_proxy[session.proxy_number].discard(session.id)
