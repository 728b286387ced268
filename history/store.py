"""The history's one door: store calls idempotently, answer questions about them as plain dicts.

Every answer is a plain dict with ISO-8601 times. Numbers leave only masked, unless the
caller asks with `include_numbers=True` — which only the shop's back office may do.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from history.models import (
    UNIQUEID,
    CallLeg,
    CallUniqueid,
    Case,
    ContactPoint,
    Customer,
    EventJournal,
    Interaction,
)
from history.protect import NumberProtector, mask_number, normalise_contact
from history.records import CallRecord, Channel, Disposition, LegRecord, PartyKind

log = logging.getLogger(__name__)

T = TypeVar("T")

CALL = "call"
OPEN = "open"
CLOSED = "closed"
ERASED_NAME = "erased"
OUTSOURCED_REF = "outsourced"   # answered_by of calls the outsourced centre took: not a person to route to
SAVE_ATTEMPTS = 6
# deadlock / serialization failure: the same transaction may succeed when simply run again
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
_SHOP_SIDE = {PartyKind.STAFF, PartyKind.COURIER, PartyKind.OUTSOURCED}
_ERASED_VALUES: dict[str, Any] = {
    "caller_number_encrypted": None,
    "caller_number_index": None,
    "callee_number_encrypted": None,
    "callee_number_index": None,
    "extra": {},
}
# Core statements run with execute-time parameters, so each is compiled once. RETURNING (unused)
# makes SQLAlchemy send a list of rows as one multi-row INSERT on both backends, not psycopg's
# executemany pipeline (which logs noise when a race aborts it) nor SQLite's row-by-row ORM inserts.
_NEW_INTERACTION = insert(Interaction.__table__).returning(Interaction.__table__.c.id)
_NEW_LEGS = insert(CallLeg.__table__).returning(CallLeg.__table__.c.id)
_NEW_UNIQUEIDS = insert(CallUniqueid.__table__).returning(CallUniqueid.__table__.c.uniqueid)
# Built once: building `column.in_(values)` anew coerces every value, on every call saved.
_UNIQUEIDS = bindparam("uniqueids", expanding=True)
_STORED_AS = select(Interaction.id).where(Interaction.natural_key == bindparam("key")).union(
    select(CallUniqueid.interaction_id).where(CallUniqueid.uniqueid.in_(_UNIQUEIDS))
)
_NEW_JOURNAL_ROWS = insert(EventJournal.__table__)
_OWNERS = select(CallUniqueid.uniqueid, CallUniqueid.interaction_id).where(CallUniqueid.uniqueid.in_(_UNIQUEIDS))


class _Raced(Exception):
    """A concurrent save changed what this one was based on; the transaction is run again."""


def natural_key(record: CallRecord) -> str:
    return f"call:{record.linkedid}"


def customer_number(record: CallRecord) -> str | None:
    """The number that belongs to the customer in this call, if any.

    On a call back or a courier's masked call the customer is the one being rung, so the
    callee's number is theirs; linking a courier's or a desk phone's number to a customer
    would be wrong.
    """
    if record.channel is Channel.INTERNAL:
        return None
    if record.channel in (Channel.CALLBACK, Channel.OUTBOUND) and record.callee_number:
        return record.callee_number
    if record.caller_kind in _SHOP_SIDE:
        return record.callee_number
    return record.caller_number


class HistoryStore:
    """Calls, customers and cases in one database (SQLite or PostgreSQL), migrated by `history.migrate`."""

    def __init__(self, engine: Engine, protector: NumberProtector) -> None:
        self.engine = engine
        self._protector = protector
        self._session = sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------------ calls

    def save_call(self, record: CallRecord) -> int:
        """Store a finished call and return its interaction id.

        Saving the same call again — the same linkedid, or any uniqueid already seen, even
        under a new linkedid after a transfer — updates that interaction in place. When
        two saves race, the unique constraints make one of them fail and it is run again.
        """
        _check_record(record)
        return self._retrying(lambda session: self._save_call(session, record))

    def save_calls(self, records: Sequence[CallRecord]) -> list[int]:
        """Store several finished calls in one transaction, in order; returns their interaction ids.

        Each is stored exactly as `save_call` stores it, only without a commit of its own. All or
        none: if one fails, nothing is stored and the caller can save them one by one instead.
        """
        for record in records:
            _check_record(record)

        def work(session: Session) -> list[int]:
            ids = []
            for record in records:
                ids.append(self._save_call(session, record))
                # the next call (perhaps a re-delivery of this one) must read rows as now stored,
                # not objects this one left behind, which Core updates have made stale
                session.expunge_all()
            return ids

        return self._retrying(work)

    def latest_call_start(self) -> datetime | None:
        """When the most recent stored call began; None while no call is stored."""
        with self._session() as session:
            return session.scalar(select(func.max(Interaction.started_at)).where(Interaction.kind == CALL))

    def known_uniqueids(self, uniqueids: set[str] | list[str]) -> set[str]:
        """Which of these channel uniqueids already belong to a stored call."""
        wanted = list(set(uniqueids))
        if not wanted:
            return set()
        with self._session() as session:
            return set(session.scalars(select(CallUniqueid.uniqueid).where(CallUniqueid.uniqueid.in_(wanted))))

    def append_events(self, linkedid: str, events: list[dict[str, Any]]) -> int:
        """Journal raw AMI/CEL events of one call, in the order given; returns how many."""
        return self.append_events_many([(linkedid, events)])

    def append_events_many(self, calls: Sequence[tuple[str, list[dict[str, Any]]]]) -> int:
        """Journal the raw events of several calls in one transaction; returns how many events."""
        calls = [(linkedid, events) for linkedid, events in calls if events]
        if not calls:
            return 0
        now = datetime.now(UTC)
        rows = []
        with self._session() as session, session.begin():
            for linkedid, events in calls:
                last = session.scalar(select(func.max(EventJournal.seq)).where(EventJournal.linkedid == linkedid))
                start = (last or 0) + 1
                rows += [
                    {
                        "linkedid": linkedid,
                        "uniqueid": _event_field(event, "Uniqueid", "UniqueID", "UniqueId"),
                        "seq": start + offset,
                        "event": (_event_field(event, "Event", "EventName") or "")[:64],
                        "payload": event,
                        "received_at": now,
                    }
                    for offset, event in enumerate(events)
                ]
            # One Core executemany: every finished call journals dozens of events, and ORM
            # objects cost more than the rows themselves (bench/ami_ingestion.py).
            session.execute(_NEW_JOURNAL_ROWS, rows)
        return len(rows)

    def journal(self, linkedid: str) -> list[dict[str, Any]]:
        """The raw events journalled under `linkedid`, oldest first (internal use only)."""
        with self._session() as session:
            rows = session.scalars(
                select(EventJournal)
                .where(EventJournal.linkedid == linkedid)
                .order_by(EventJournal.seq, EventJournal.id)
            ).all()
        return [
            {
                "seq": row.seq,
                "event": row.event,
                "uniqueid": row.uniqueid,
                "payload": row.payload,
                "received_at": _iso(row.received_at),
            }
            for row in rows
        ]

    def purge_journal(self, older_than: datetime | timedelta) -> int:
        """Delete raw events received before `older_than` (a time, or an age); returns how many."""
        cutoff = datetime.now(UTC) - older_than if isinstance(older_than, timedelta) else older_than
        with self._session() as session, session.begin():
            result = session.execute(delete(EventJournal).where(EventJournal.received_at < cutoff))
        return result.rowcount or 0

    def list_calls(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        disposition: Disposition | str | None = None,
        staff: str | None = None,
        customer_id: str | None = None,
        channel: Channel | str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        *,
        include_numbers: bool = False,
    ) -> list[dict[str, Any]]:
        """Calls started in [since, until), newest first; `limit=None` for all of them.

        `staff` matches whoever answered and anyone whose phone was rung (any leg).
        """
        query = select(Interaction).where(Interaction.kind == CALL)
        if since is not None:
            query = query.where(Interaction.started_at >= since)
        if until is not None:
            query = query.where(Interaction.started_at < until)
        if disposition is not None:
            query = query.where(Interaction.disposition == str(disposition))
        if channel is not None:
            query = query.where(Interaction.channel == str(channel))
        if customer_id is not None:
            query = query.where(Interaction.customer_id == customer_id)
        if staff is not None:
            on_a_leg = exists().where(CallLeg.interaction_id == Interaction.id, CallLeg.party_ref == staff)
            query = query.where(or_(Interaction.answered_by == staff, on_a_leg))
        query = query.order_by(Interaction.started_at.desc(), Interaction.id.desc()).limit(limit).offset(offset)
        with self._session() as session:
            rows = session.scalars(query).all()
        return [self._interaction_dict(row, include_numbers) for row in rows]

    def get_call(self, interaction_id: int, *, include_numbers: bool = False) -> dict[str, Any] | None:
        """One call with its legs and every uniqueid it was seen under."""
        with self._session() as session:
            row = session.get(Interaction, interaction_id)
            if row is None or row.kind != CALL:
                return None
            legs = session.scalars(
                select(CallLeg).where(CallLeg.interaction_id == interaction_id).order_by(CallLeg.started_at, CallLeg.id)
            ).all()
            uniqueids = session.scalars(
                select(CallUniqueid.uniqueid)
                .where(CallUniqueid.interaction_id == interaction_id)
                .order_by(CallUniqueid.uniqueid)
            ).all()
        answer = self._interaction_dict(row, include_numbers)
        answer["legs"] = [_leg_dict(leg) for leg in legs]
        answer["uniqueids"] = list(uniqueids)
        return answer

    # ------------------------------------------------------------- customers

    def add_customer(
        self,
        customer_id: str,
        display_name: str = "",
        *,
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
    ) -> None:
        """Create a customer (or rename one) and attach contact points it does not have yet."""
        def work(session: Session) -> None:
            customer = self._ensure_customer(session, customer_id)
            if customer.erased_at is not None:
                raise ValueError(f"customer {customer_id!r} was erased and cannot be given new details")
            if display_name:
                customer.display_name = display_name
            for kind, values in (("phone", phones), ("email", emails)):
                for value in values:
                    owner = self._attach_contact(session, customer_id, kind, value)
                    if owner != customer_id:
                        raise ValueError(f"this {kind} already belongs to another customer ({owner})")

        self._retrying(work)

    def find_customer(self, *, phone: str | None = None, email: str | None = None) -> str | None:
        """The id of the customer a phone number or e-mail address belongs to."""
        kind, value = ("phone", phone) if phone is not None else ("email", email)
        if value is None:
            raise ValueError("give a phone number or an e-mail address to look for")
        with self._session() as session:
            return self._customer_by_contact(session, kind, value)

    def get_customer(self, customer_id: str, *, include_contacts: bool = False) -> dict[str, Any] | None:
        with self._session() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                return None
            contacts = session.scalars(
                select(ContactPoint).where(ContactPoint.customer_id == customer_id).order_by(ContactPoint.id)
            ).all()
        return {
            "id": customer.id,
            "display_name": customer.display_name,
            "created_at": _iso(customer.created_at),
            "erased_at": _iso(customer.erased_at),
            "erased": customer.erased_at is not None,
            "contacts": [
                {"kind": c.kind, "value": self._show(c.value_encrypted, include_contacts, mask=c.kind == "phone")}
                for c in contacts
            ],
        }

    def erase_customer(self, customer_id: str, *, at: datetime | None = None) -> bool:
        """Forget a customer's personal data; keep the interactions, marked erased, for statistics.

        Numbers of every interaction linked to the customer — or made from or to one of
        their numbers before they were known — are removed, with their raw journalled
        events. Returns False if there is no such customer.
        """
        when = at or datetime.now(UTC)

        def work(session: Session) -> bool:
            customer = session.get(Customer, customer_id, with_for_update=True)
            if customer is None:
                return False
            indexes = list(
                session.scalars(
                    select(ContactPoint.value_index).where(
                        ContactPoint.customer_id == customer_id, ContactPoint.kind == "phone"
                    )
                )
            )
            theirs: ColumnElement[bool] = Interaction.customer_id == customer_id
            if indexes:
                theirs = or_(
                    theirs,
                    Interaction.caller_number_index.in_(indexes),
                    Interaction.callee_number_index.in_(indexes),
                )
            ids = list(session.scalars(select(Interaction.id).where(theirs)))
            if ids:
                self._forget_journal(session, ids)
                session.execute(
                    update(Interaction)
                    .where(Interaction.id.in_(ids))
                    .values(**_ERASED_VALUES, erased_at=func.coalesce(Interaction.erased_at, when)),
                    execution_options={"synchronize_session": False},
                )
            session.execute(delete(ContactPoint).where(ContactPoint.customer_id == customer_id))
            customer.display_name = ERASED_NAME
            customer.erased_at = customer.erased_at or when
            return True

        return self._retrying(work)

    def customer_timeline(
        self, customer_id: str, *, include_numbers: bool = False, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every interaction of a customer (directly or through one of their cases), newest first."""
        query = (
            select(Interaction, Case)
            .outerjoin(Case, Interaction.case_id == Case.id)
            .where(or_(Interaction.customer_id == customer_id, Case.customer_id == customer_id))
            .order_by(Interaction.started_at.desc(), Interaction.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            rows = session.execute(query).all()
        timeline = []
        for interaction, case in rows:
            item = self._interaction_dict(interaction, include_numbers)
            item["case"] = None if case is None else _case_dict(case)
            timeline.append(item)
        return timeline

    def last_handler(self, customer_id: str | None = None, caller_number: str | None = None) -> str | None:
        """Who answered this customer's latest interaction about a still-open case or order.

        Routing rings that person first. The customer is named by id, or found by the
        number calling; a number not linked to any customer still matches its own calls.
        """
        if customer_id is None and caller_number is None:
            raise ValueError("give a customer id or the caller's number")
        index = None if caller_number is None else self._index("phone", caller_number)
        with self._session() as session:
            if customer_id is None and index is not None:
                customer_id = session.scalar(
                    select(ContactPoint.customer_id).where(
                        ContactPoint.kind == "phone", ContactPoint.value_index == index
                    )
                )
            whose = []
            if customer_id is not None:
                whose.append(Interaction.customer_id == customer_id)
            if index is not None:
                whose.append(Interaction.caller_number_index == index)
            about_open = [Case.status == OPEN]
            if customer_id is not None:
                open_orders = select(Case.order_ref).where(
                    Case.status == OPEN, Case.customer_id == customer_id, Case.order_ref.is_not(None)
                )
                about_open.append(Interaction.order_ref.in_(open_orders))
            query = (
                select(Interaction.answered_by)
                .outerjoin(Case, Interaction.case_id == Case.id)
                .where(
                    or_(*whose),
                    or_(*about_open),
                    Interaction.answered_by.is_not(None),
                    Interaction.answered_by != OUTSOURCED_REF,
                )
                .order_by(Interaction.started_at.desc(), Interaction.id.desc())
                .limit(1)
            )
            return session.scalar(query)

    # ----------------------------------------------------------------- cases

    def open_case(
        self,
        customer_id: str | None = None,
        *,
        order_ref: str | None = None,
        topic: str = "",
        owner: str | None = None,
        case_id: str | None = None,
        opened_at: datetime | None = None,
    ) -> str:
        """Open a case (creating the customer row if the id is new); returns the case id."""
        new_id = case_id or f"case-{uuid.uuid4().hex[:16]}"

        def work(session: Session) -> str:
            if session.get(Case, new_id) is not None:
                raise ValueError(f"case {new_id!r} already exists")
            if customer_id is not None:
                self._ensure_customer(session, customer_id)
            session.add(
                Case(
                    id=new_id,
                    customer_id=customer_id,
                    order_ref=order_ref,
                    topic=topic,
                    owner=owner,
                    status=OPEN,
                    opened_at=opened_at or datetime.now(UTC),
                )
            )
            session.flush()
            return new_id

        return self._retrying(work)

    def close_case(self, case_id: str, *, closed_at: datetime | None = None) -> bool:
        """Close an open case; False if it does not exist or was already closed."""
        with self._session() as session, session.begin():
            result = session.execute(
                update(Case)
                .where(Case.id == case_id, Case.status == OPEN)
                .values(status=CLOSED, closed_at=closed_at or datetime.now(UTC)),
                execution_options={"synchronize_session": False},
            )
        return bool(result.rowcount)

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        with self._session() as session:
            case = session.get(Case, case_id)
        return None if case is None else _case_dict(case)

    # -------------------------------------------------------------- internals

    def _retrying(self, work: Callable[[Session], T], attempts: int = SAVE_ATTEMPTS) -> T:
        for attempt in range(1, attempts + 1):
            try:
                with self._session() as session, session.begin():
                    return work(session)
            except (IntegrityError, _Raced):
                if attempt == attempts:
                    raise
                log.debug("history: a concurrent writer got there first; trying again (%d)", attempt)
            except DBAPIError as exc:
                if attempt == attempts or getattr(exc.orig, "sqlstate", None) not in _RETRYABLE_SQLSTATES:
                    raise
                log.debug("history: transaction aborted by the database (%s); trying again", exc.orig)
            # a random pause, so that the same two savers do not collide again in lockstep
            time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")

    def _save_call(self, session: Session, record: CallRecord) -> int:
        keys = {record.linkedid, *record.uniqueids, *(leg.uniqueid for leg in record.legs)}
        matched = self._matching(session, natural_key(record), keys)
        values = self._interaction_values(session, record)
        if matched:
            target, others = matched[0], matched[1:]
            rows = session.scalars(select(Interaction).where(Interaction.id.in_(matched)).order_by(Interaction.id))
            earlier = list(rows)
            for name in ("customer_id", "case_id"):
                if values[name] is None:
                    values[name] = next((getattr(r, name) for r in earlier if getattr(r, name)), None)
            erased_at = next((r.erased_at for r in earlier if r.erased_at), None)
            if erased_at is not None:
                # a late re-delivery (say, from the writer's spool) must not bring numbers back
                values.update(_ERASED_VALUES, erased_at=erased_at)
            if others:
                self._merge_into(session, target, others)
            session.execute(delete(CallLeg).where(CallLeg.interaction_id == target))
            session.execute(
                update(Interaction).where(Interaction.id == target).values(**values),
                execution_options={"synchronize_session": False},
            )
        else:
            new_row = {"kind": CALL, "natural_key": natural_key(record), **values}
            target = session.execute(_NEW_INTERACTION, new_row).scalar_one()
        if record.legs:
            session.execute(_NEW_LEGS, [_leg_values(target, leg) for leg in record.legs])
        seen = session.execute(_OWNERS, {"uniqueids": sorted(keys)}).all()
        owners = {uniqueid: owner for uniqueid, owner in seen}
        if any(owner != target for owner in owners.values()):
            # another save stored this call since we looked: start over and find its row
            raise _Raced(record.linkedid)
        new_keys = sorted(keys - owners.keys())  # one order everywhere: racing savers do not deadlock
        if new_keys:
            session.execute(_NEW_UNIQUEIDS, [{"uniqueid": k, "interaction_id": target} for k in new_keys])
        session.flush()
        return target

    def _matching(self, session: Session, key: str, uniqueids: set[str]) -> list[int]:
        """Interactions this call was already stored as, locked, lowest id first."""
        params = {"key": key, "uniqueids": sorted(uniqueids)}
        found = sorted(set(session.scalars(_STORED_AS, params)))
        if found:
            # Lock, then look again: a concurrent save may have merged rows meanwhile.
            session.execute(
                select(Interaction.id).where(Interaction.id.in_(found)).order_by(Interaction.id).with_for_update()
            ).all()
            found = sorted(set(session.scalars(_STORED_AS, params)))
        return found

    def _merge_into(self, session: Session, target: int, others: list[int]) -> None:
        """One call was stored as several interactions (its uniqueids arrived apart): keep one."""
        log.info("history: merging interactions %s into %d (same call)", others, target)
        sync = {"synchronize_session": False}
        session.execute(
            update(CallUniqueid).where(CallUniqueid.interaction_id.in_(others)).values(interaction_id=target),
            execution_options=sync,
        )
        session.execute(delete(CallLeg).where(CallLeg.interaction_id.in_(others)), execution_options=sync)
        session.execute(delete(Interaction).where(Interaction.id.in_(others)), execution_options=sync)

    def _interaction_values(self, session: Session, record: CallRecord) -> dict[str, Any]:
        customer = self._link_customer(session, record)
        customer_id = None if customer is None else customer.id
        erased_at = None if customer is None else customer.erased_at
        case_id = None
        order_ref = record.order_ref
        extra = dict(record.extra)
        if record.case_ref:
            case = session.get(Case, record.case_ref)
            if case is None:
                # keep a reference to a case this database does not know rather than lose it
                extra["case_ref"] = record.case_ref
            else:
                case_id = case.id
                customer_id = customer_id or case.customer_id
                order_ref = order_ref or case.order_ref
        caller = self._protected(record.caller_number, erased_at)
        callee = self._protected(record.callee_number, erased_at)
        return {
            "channel": record.channel.value,
            "started_at": record.started_at,
            "answered_at": record.answered_at,
            "ended_at": record.ended_at,
            "disposition": record.disposition.value,
            "answered_by": record.answered_by,
            "customer_id": customer_id,
            "case_id": case_id,
            "order_ref": order_ref,
            "page_ref": record.page_ref,
            "caller_kind": record.caller_kind.value,
            "caller_ref": record.caller_ref,
            "caller_number_encrypted": caller[0],
            "caller_number_index": caller[1],
            "callee_number_encrypted": callee[0],
            "callee_number_index": callee[1],
            "route": list(record.route),
            "targets_tried": list(record.targets_tried),
            "queue_seconds": record.queue_seconds,
            "talk_seconds": record.talk_seconds,
            "wait_seconds": record.wait_seconds,
            "transfers": record.transfers,
            "source": record.source,
            "extra": extra,
            "erased_at": None,
        } | ({} if erased_at is None else {**_ERASED_VALUES, "erased_at": erased_at})

    def _link_customer(self, session: Session, record: CallRecord) -> Customer | None:
        """The customer of this call: the one the record names, else the owner of the number.

        The row itself, not its id: the session holds loaded rows only weakly, and asking again
        for its erased_at would cost one more query per call.
        """
        number = customer_number(record)
        if record.customer_id is None:
            if number is None:
                return None
            owner = select(Customer).join(ContactPoint, ContactPoint.customer_id == Customer.id)
            return session.scalar(
                owner.where(ContactPoint.kind == "phone", ContactPoint.value_index == self._index("phone", number))
            )
        customer = self._ensure_customer(session, record.customer_id)
        if number is not None and customer.erased_at is None:
            self._attach_contact(session, customer.id, "phone", number)
        return customer

    def _ensure_customer(self, session: Session, customer_id: str) -> Customer:
        customer = session.get(Customer, customer_id)
        if customer is None:
            customer = Customer(id=customer_id, display_name="", created_at=datetime.now(UTC))
            session.add(customer)
            session.flush()
        return customer

    def _attach_contact(self, session: Session, customer_id: str, kind: str, value: str) -> str:
        """Give the customer this contact unless someone already has it; returns its owner."""
        clear = normalise_contact(kind, value)
        index = self._protector.blind_index(clear)
        owner = session.scalar(
            select(ContactPoint.customer_id).where(ContactPoint.kind == kind, ContactPoint.value_index == index)
        )
        if owner is not None:
            return owner
        session.add(
            ContactPoint(
                customer_id=customer_id,
                kind=kind,
                value_index=index,
                value_encrypted=self._protector.encrypt(clear),
                created_at=datetime.now(UTC),
            )
        )
        session.flush()
        return customer_id

    def _customer_by_contact(self, session: Session, kind: str, value: str) -> str | None:
        return session.scalar(
            select(ContactPoint.customer_id).where(
                ContactPoint.kind == kind, ContactPoint.value_index == self._index(kind, value)
            )
        )

    def _index(self, kind: str, value: str) -> str:
        return self._protector.blind_index(normalise_contact(kind, value))

    def _protected(self, number: str | None, erased_at: datetime | None) -> tuple[bytes | None, str | None]:
        if number is None or erased_at is not None:
            return None, None
        clear = normalise_contact("phone", number)
        return self._protector.encrypt(clear), self._protector.blind_index(clear)

    def _forget_journal(self, session: Session, interaction_ids: list[int]) -> None:
        """Raw events hold numbers in clear: an erased customer's calls lose theirs."""
        of_them = CallUniqueid.interaction_id.in_(interaction_ids)
        keys = set(session.scalars(select(CallUniqueid.uniqueid).where(of_them)))
        keys.update(
            key.removeprefix("call:")
            for key in session.scalars(select(Interaction.natural_key).where(Interaction.id.in_(interaction_ids)))
        )
        if keys:
            session.execute(
                delete(EventJournal).where(or_(EventJournal.linkedid.in_(keys), EventJournal.uniqueid.in_(keys))),
                execution_options={"synchronize_session": False},
            )

    def _show(self, token: bytes | None, include: bool, *, mask: bool = True) -> str | None:
        if token is None:
            return None
        try:
            clear = self._protector.decrypt(token)
        except ValueError:
            log.error("history: a stored number cannot be decrypted (was the encryption key changed?)")
            return None
        if include:
            return clear
        return mask_number(clear) if mask else _mask_email(clear)

    def _interaction_dict(self, row: Interaction, include_numbers: bool) -> dict[str, Any]:
        return {
            "id": row.id,
            "kind": row.kind,
            "channel": row.channel,
            "natural_key": row.natural_key,
            "started_at": _iso(row.started_at),
            "answered_at": _iso(row.answered_at),
            "ended_at": _iso(row.ended_at),
            "disposition": row.disposition,
            "answered_by": row.answered_by,
            "customer_id": row.customer_id,
            "case_id": row.case_id,
            "order_ref": row.order_ref,
            "page_ref": row.page_ref,
            "caller_kind": row.caller_kind,
            "caller_ref": row.caller_ref,
            "caller_number": self._show(row.caller_number_encrypted, include_numbers),
            "callee_number": self._show(row.callee_number_encrypted, include_numbers),
            "route": list(row.route or ()),
            "targets_tried": list(row.targets_tried or ()),
            "queue_seconds": row.queue_seconds,
            "talk_seconds": row.talk_seconds,
            "wait_seconds": row.wait_seconds,
            "transfers": row.transfers,
            "source": row.source,
            "extra": dict(row.extra or {}),
            "erased": row.erased_at is not None,
            "erased_at": _iso(row.erased_at),
            "created_at": _iso(row.created_at),
        }


def _check_record(record: CallRecord) -> None:
    if not record.linkedid or len(record.linkedid) > UNIQUEID:
        raise ValueError(f"call record has an unusable linkedid {record.linkedid!r}")
    times = [record.started_at, record.ended_at, record.answered_at]
    for leg in record.legs:
        times += [leg.started_at, leg.ended_at, leg.answered_at]
    if any(t is not None and t.utcoffset() is None for t in times):
        raise ValueError(f"call {record.linkedid}: every time must be timezone-aware")


# A leg's fields, written from a LegRecord and read back from a CallLeg row under the same names.
_LEG_FIELDS = (
    "uniqueid", "party_kind", "party_ref", "started_at", "answered_at", "ended_at", "outcome", "hangup_cause",
    "is_caller", "transferred_to", "ring_seconds", "talk_seconds", "hold_seconds",
)
_LEG_TIMES = ("started_at", "answered_at", "ended_at")


def _leg_values(interaction_id: int, leg: LegRecord) -> dict[str, Any]:
    values = {name: getattr(leg, name) for name in _LEG_FIELDS}
    return {"interaction_id": interaction_id, **values, "party_kind": leg.party_kind.value}


def _leg_dict(leg: CallLeg) -> dict[str, Any]:
    values = {name: getattr(leg, name) for name in _LEG_FIELDS}
    return {**values, **{name: _iso(values[name]) for name in _LEG_TIMES}}


def _case_dict(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "customer_id": case.customer_id,
        "order_ref": case.order_ref,
        "topic": case.topic,
        "owner": case.owner,
        "status": case.status,
        "opened_at": _iso(case.opened_at),
        "closed_at": _iso(case.closed_at),
    }


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return (local[:1] + "•••@" + domain) if domain else "•••"


def _event_field(event: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = event.get(name)
        if value is not None:
            return str(value)[:UNIQUEID]
    return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
