"""`masking.store.SessionStore` on SQLAlchemy Core, for SQLite and PostgreSQL.

Every lookup by number goes through a blind index and is split per role (customer, courier)
into its own indexed query rather than one `OR`, so each half is a range scan on its
composite index on both databases.

The lookups are built once, with bound parameters: building a statement per call costs
SQLAlchemy a cache-key walk over all fifteen columns, about as long as the query itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Engine, Select, bindparam, false, select, union, union_all, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from history.masking_models import masking_session as t
from masking.store import StoredSession


class _NotIndexed(ColumnElement[Any]):
    """A column that SQLite must not use an index for; other databases see the plain column.

    Without statistics SQLite's planner answers any `closed_at IS NULL AND expires_at > ?` from
    ix_masking_session_closed_expires, which reads every open session in the table rather than
    one person's (measured: 13 s per opened session at a million live sessions). A unary `+` is
    SQLite's documented way to keep a term off an index; PostgreSQL plans these from its
    statistics and has no unary `+` for timestamps.
    """

    inherit_cache = True
    _traverse_internals: ClassVar[list[tuple[str, InternalTraversal]]] = [
        ("column", InternalTraversal.dp_clauseelement)
    ]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_NotIndexed)
def _plain(element: _NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_NotIndexed, "sqlite")
def _unary_plus(element: _NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


_ROLES = (t.c.customer_index, t.c.courier_index)
_GET = select(t).where(t.c.id == bindparam("session_id"))
_OPEN_ON_PROXY = union_all(
    *(
        select(t).where(
            role == bindparam("number_index"), t.c.proxy_number == bindparam("proxy"), t.c.closed_at.is_(None)
        )
        for role in _ROLES
    )
)
# Each role's latest closed session (its index is ordered by closed_at), both in one round trip.
_LAST_CLOSED_ON_PROXY = union_all(
    *(
        select(
            select(t)
            .where(
                role == bindparam("number_index"), t.c.proxy_number == bindparam("proxy"), t.c.closed_at.is_not(None)
            )
            .order_by(t.c.closed_at.desc())
            .limit(1)
            .subquery()
        )
        for role in _ROLES
    )
)
# Both parties of a new session in one round trip; their open sessions come from the role's own
# index, never from the expiry index.
_PROXIES_IN_USE = union(
    *(
        select(t.c.proxy_number).where(
            role.in_(bindparam("number_indexes", expanding=True)),
            _NotIndexed(t.c.closed_at).is_(None),
            t.c.expires_at > bindparam("now"),
        )
        for role in _ROLES
    )
)
_LIVE_PINS = select(t.c.pin).where(
    t.c.proxy_number == bindparam("proxy"),
    t.c.closed_at.is_(None),
    t.c.pin.is_not(None),
    _NotIndexed(t.c.expires_at) > bindparam("now"),
)
_FOR_ORDER = select(t).where(t.c.order_ref == bindparam("order_ref")).order_by(t.c.created_at, t.c.id)
_FOR_CUSTOMER = select(t).where(t.c.customer_ref == bindparam("customer_ref")).order_by(t.c.created_at, t.c.id)

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
            conn.execute(t.insert(), _to_row(session))

    def get(self, session_id: str) -> StoredSession | None:
        return self._one(_GET, session_id=session_id)

    def update(self, session: StoredSession) -> None:
        values = _to_row(session)
        del values["id"]
        with self._engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.id == session.id).values(**values))
        if result.rowcount != 1:
            raise KeyError(f"session {session.id} does not exist")

    def open_on_proxy(self, number_index: str, proxy_number: str) -> list[StoredSession]:
        with self._engine.connect() as conn:
            rows = conn.execute(_OPEN_ON_PROXY, {"number_index": number_index, "proxy": proxy_number}).mappings().all()
        found = {row["id"]: _from_row(row) for row in rows}
        return sorted(found.values(), key=lambda s: (s.created_at, s.id))

    def last_closed_on_proxy(self, number_index: str, proxy_number: str) -> StoredSession | None:
        latest = self._all(_LAST_CLOSED_ON_PROXY, number_index=number_index, proxy=proxy_number)
        return max(latest, key=lambda s: s.closed_at or s.created_at, default=None)

    def proxies_in_use(self, number_indexes: Collection[str], now: datetime) -> set[str]:
        if isinstance(number_indexes, str):
            raise TypeError("proxies_in_use takes a collection of blind indexes, not one string")
        with self._engine.connect() as conn:
            return set(conn.execute(_PROXIES_IN_USE, {"number_indexes": list(number_indexes), "now": now}).scalars())

    def live_pins(self, proxy_number: str, now: datetime) -> set[str]:
        with self._engine.connect() as conn:
            return set(conn.execute(_LIVE_PINS, {"proxy": proxy_number, "now": now}).scalars())

    def for_order(self, order_ref: str) -> list[StoredSession]:
        return self._all(_FOR_ORDER, order_ref=order_ref)

    def for_customer(self, customer_ref: str) -> list[StoredSession]:
        return self._all(_FOR_CUSTOMER, customer_ref=customer_ref)

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

    def _one(self, query: Select[Any], **params: Any) -> StoredSession | None:
        with self._engine.connect() as conn:
            row = conn.execute(query, params).mappings().first()
        return None if row is None else _from_row(row)

    def _all(self, query: Executable, **params: Any) -> list[StoredSession]:
        with self._engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query, params).mappings()]
