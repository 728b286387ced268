"""`masking.store.SessionStore` on SQLAlchemy Core, for SQLite and PostgreSQL.

Every lookup by number goes through a blind index and is split per role (customer, courier)
into its own indexed query rather than one `OR`, so each half is a range scan on its
composite index on both databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, false, select, union, union_all, update

from history.masking_models import masking_session as t
from masking.store import StoredSession

_COLUMNS = {  # StoredSession field -> column name, where they differ
    "customer_sealed": "customer_number",
    "courier_sealed": "courier_number",
}


def _to_row(session: StoredSession) -> dict[str, Any]:
    return {_COLUMNS.get(name, name): getattr(session, name) for name in StoredSession.__dataclass_fields__}


def _from_row(row: Mapping[str, Any]) -> StoredSession:
    values = {name: row[_COLUMNS.get(name, name)] for name in StoredSession.__dataclass_fields__}
    for name in ("customer_sealed", "courier_sealed"):
        if values[name] is not None:
            values[name] = bytes(values[name])  # psycopg hands back memoryview for bytea
    return StoredSession(**values)


class SqlSessionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, session: StoredSession) -> None:
        with self._engine.begin() as conn:
            conn.execute(t.insert().values(**_to_row(session)))

    def get(self, session_id: str) -> StoredSession | None:
        return self._one(select(t).where(t.c.id == session_id))

    def update(self, session: StoredSession) -> None:
        values = _to_row(session)
        del values["id"]
        with self._engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.id == session.id).values(**values))
        if result.rowcount != 1:
            raise KeyError(f"session {session.id} does not exist")

    def open_on_proxy(self, number_index: str, proxy_number: str) -> list[StoredSession]:
        per_role = [
            select(t).where(column == number_index, t.c.proxy_number == proxy_number, t.c.closed_at.is_(None))
            for column in (t.c.customer_index, t.c.courier_index)
        ]
        with self._engine.connect() as conn:
            rows = conn.execute(union_all(*per_role)).mappings().all()
        found = {row["id"]: _from_row(row) for row in rows}
        return sorted(found.values(), key=lambda s: (s.created_at, s.id))

    def last_closed_on_proxy(self, number_index: str, proxy_number: str) -> StoredSession | None:
        latest = [
            self._one(
                select(t)
                .where(column == number_index, t.c.proxy_number == proxy_number, t.c.closed_at.is_not(None))
                .order_by(t.c.closed_at.desc())
                .limit(1)
            )
            for column in (t.c.customer_index, t.c.courier_index)
        ]
        return max((s for s in latest if s is not None), key=lambda s: s.closed_at or s.created_at, default=None)

    def proxies_in_use(self, number_index: str, now: datetime) -> set[str]:
        per_role = [
            select(t.c.proxy_number).where(column == number_index, t.c.closed_at.is_(None), t.c.expires_at > now)
            for column in (t.c.customer_index, t.c.courier_index)
        ]
        with self._engine.connect() as conn:
            return set(conn.execute(union(*per_role)).scalars())

    def live_pins(self, proxy_number: str, now: datetime) -> set[str]:
        query = select(t.c.pin).where(
            t.c.proxy_number == proxy_number,
            t.c.closed_at.is_(None),
            t.c.pin.is_not(None),
            t.c.expires_at > now,
        )
        with self._engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def for_order(self, order_ref: str) -> list[StoredSession]:
        return self._all(select(t).where(t.c.order_ref == order_ref).order_by(t.c.created_at, t.c.id))

    def for_customer(self, customer_ref: str) -> list[StoredSession]:
        return self._all(select(t).where(t.c.customer_ref == customer_ref).order_by(t.c.created_at, t.c.id))

    def close_expired(self, now: datetime) -> int:
        statement = (
            update(t)
            .where(t.c.closed_at.is_(None), t.c.expires_at <= now)
            .values(closed_at=t.c.expires_at)
        )
        with self._engine.begin() as conn:
            return conn.execute(statement).rowcount

    def purge_closed_before(self, cutoff: datetime) -> int:
        statement = (
            update(t)
            .where(t.c.erased == false(), t.c.closed_at < cutoff)
            .values(
                customer_number=None,
                customer_index=None,
                courier_number=None,
                courier_index=None,
                erased=True,
            )
        )
        with self._engine.begin() as conn:
            return conn.execute(statement).rowcount

    def _one(self, query: Select[Any]) -> StoredSession | None:
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _from_row(row)

    def _all(self, query: Select[Any]) -> list[StoredSession]:
        with self._engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query).mappings()]
