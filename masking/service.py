"""Masked calls between couriers and customers: open, resolve, close, expire, erase.

The service seals real numbers before they reach the store and opens them only to build a
session for the back office or a dial string for the PBX. Refusals are reported to an
injected `on_refusal` callback (the composition root logs them), never to the caller.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from config.schema import Settings
from masking.crypto import NumberCipher
from masking.errors import MaskingInputError, SessionNotFound
from masking.model import (
    Connect,
    MaskingSession,
    NeedPin,
    Participant,
    Refusal,
    RefusalCode,
    Refuse,
    Resolution,
    Role,
)
from masking.pool import ProxyPool
from masking.ratelimit import AttemptLimiter
from masking.store import SessionStore, StoredSession
from masking.validation import (
    check_number,
    check_optional_ref,
    check_ref,
    check_ttl,
    is_ref,
    is_withheld,
    parse_incoming,
)

Clock = Callable[[], datetime]

# Refusals that say something about the caller's own attempt; the others are our side's doing.
_COUNTED: frozenset[RefusalCode] = frozenset({"stranger", "expired", "closed", "bad_pin"})


@dataclass(frozen=True)
class Housekeeping:
    expired: int  # sessions closed because they ran past their expiry
    purged: int   # closed sessions whose numbers were dropped after the retention period


class MaskingService:
    def __init__(
        self,
        store: SessionStore,
        settings: Settings,
        clock: Clock,
        cipher: NumberCipher,
        *,
        on_refusal: Callable[[Refusal], None] | None = None,
    ) -> None:
        self._store = store
        self._masking = settings.masking
        self._region = settings.shop.default_region
        self._allowed_regions = tuple(settings.shop.allowed_regions)
        self._clock = clock
        self._cipher = cipher
        self._on_refusal = on_refusal or (lambda refusal: None)
        self._pool = ProxyPool(
            settings.masking.pool,
            single_number_mode=settings.masking.single_number_mode,
            pin_digits=settings.masking.pin_digits,
        )
        self.limiter = AttemptLimiter(settings.masking.max_failed_attempts, self._now)
        # Choosing a proxy and inserting the session must not interleave, or two threads could
        # hand one party the same proxy twice. Several processes would need a database lock.
        self._allocating = threading.Lock()

    # -- sessions ---------------------------------------------------------------------------

    def open_session(
        self,
        order_ref: str,
        customer_ref: str,
        customer_number: str,
        courier_ref: str,
        courier_number: str,
        case_ref: str | None = None,
        ttl: timedelta | None = None,
    ) -> MaskingSession:
        """Put a proxy number between a customer and a courier for one order.

        Raises MaskingInputError (naming the field) or PoolExhausted.
        """
        check_ref("order_ref", order_ref)
        check_ref("customer_ref", customer_ref)
        customer_number = self._check_number("customer_number", customer_number)
        check_ref("courier_ref", courier_ref)
        courier_number = self._check_number("courier_number", courier_number)
        check_optional_ref("case_ref", case_ref)
        lifetime = check_ttl(ttl) if ttl is not None else timedelta(hours=self._masking.session_ttl_hours)
        if customer_number == courier_number:
            raise MaskingInputError(
                "courier_number", "is the same as customer_number; a masked call needs two different phones"
            )
        customer_index = self._cipher.blind_index(customer_number)
        courier_index = self._cipher.blind_index(courier_number)
        with self._allocating:
            now = self._now()
            allocation = self._pool.allocate(self._store, customer_index, courier_index, now)
            stored = StoredSession(
                id=secrets.token_hex(16),
                order_ref=order_ref,
                case_ref=case_ref,
                customer_ref=customer_ref,
                customer_sealed=self._cipher.encrypt(customer_number),
                customer_index=customer_index,
                courier_ref=courier_ref,
                courier_sealed=self._cipher.encrypt(courier_number),
                courier_index=courier_index,
                proxy_number=allocation.proxy_number,
                pin=allocation.pin,
                created_at=now,
                expires_at=now + lifetime,
                closed_at=None,
                erased=False,
            )
            self._store.add(stored)
        return self._unseal(stored)

    def get(self, session_id: str) -> MaskingSession:
        """A live session; SessionNotFound when it is unknown, closed or expired."""
        return self._unseal(self._live(session_id))

    def close(self, session_id: str) -> MaskingSession:
        """End the mapping now (delivery done or cancelled); SessionNotFound as for `get`."""
        stored = replace(self._live(session_id), closed_at=self._now())
        self._store.update(stored)
        return self._unseal(stored)

    def sessions_for_order(self, order_ref: str) -> list[MaskingSession]:
        """Every session of an order, closed ones included (numbers gone once purged)."""
        check_ref("order_ref", order_ref)
        return [self._unseal(s) for s in self._store.for_order(order_ref)]

    # -- calls ------------------------------------------------------------------------------

    def resolve(self, caller_number: str | None, proxy_number: str, pin: str | None = None) -> Resolution:
        """What to do with a call from `caller_number` to `proxy_number`."""
        # The PBX passes the dialled pool number as configured (E.164, validated at start-up);
        # parsing it again, which takes about as long as the database lookup, returns it unchanged.
        proxy = proxy_number if proxy_number in self._pool else parse_incoming(proxy_number, self._region)
        if proxy is None or proxy not in self._pool:
            return self._refuse("unknown_proxy", None, None)
        if is_withheld(caller_number):
            return self._refuse("withheld", proxy, None)
        caller = parse_incoming(caller_number or "", self._region)
        if caller is None:
            return self._refuse("bad_caller", proxy, None)
        source = self._cipher.blind_index(caller)
        if self.limiter.blocked(source):
            return self._refuse("rate_limited", proxy, None)

        now = self._now()
        candidates = self._store.open_on_proxy(source, proxy)
        live = [s for s in candidates if s.is_live(now)]
        if not live:
            if candidates:
                return self._refuse("expired", proxy, candidates[0].id, source)
            last = self._store.last_closed_on_proxy(source, proxy)
            if last is not None:
                return self._refuse("closed", proxy, last.id, source)
            return self._refuse("stranger", proxy, None, source)

        pinned = [s for s in live if s.pin is not None]
        if not pinned:
            if len(live) > 1:
                return self._refuse("ambiguous", proxy, None)
            return self._connect(live[0], source)
        if pin is None:
            return NeedPin(proxy)
        if not (isinstance(pin, str) and pin.isascii() and pin.isdigit() and len(pin) == self._pool.pin_digits):
            return self._refuse("bad_pin", proxy, None, source)
        for session in pinned:
            if hmac.compare_digest(session.pin or "", pin):
                return self._connect(session, source)
        return self._refuse("bad_pin", proxy, None, source)

    # -- retention --------------------------------------------------------------------------

    def expire_and_purge(self, now: datetime | None = None) -> Housekeeping:
        """Close sessions past their expiry; drop the numbers of those closed beyond retention."""
        now = now or self._now()
        self._require_aware(now)
        expired = self._store.close_expired(now)
        purged = self._store.purge_closed_before(now - timedelta(days=self._masking.retention_days))
        self.limiter.prune()
        return Housekeeping(expired=expired, purged=purged)

    def erase_customer(self, customer_ref: str) -> int:
        """GDPR erasure: drop the customer's numbers from every masking session; return how many.

        Live sessions are closed too, since they could no longer connect. The courier's number
        in those sessions goes as well: a session that can never connect has no use for it.
        """
        check_ref("customer_ref", customer_ref)
        now = self._now()
        erased = 0
        for stored in self._store.for_customer(customer_ref):
            if stored.erased and stored.customer_sealed is None and stored.customer_index is None:
                continue
            self._store.update(
                replace(
                    stored,
                    customer_sealed=None,
                    customer_index=None,
                    courier_sealed=None,
                    courier_index=None,
                    erased=True,
                    closed_at=stored.closed_at or now,
                )
            )
            erased += 1
        return erased

    # -- helpers ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        self._require_aware(now)
        return now

    @staticmethod
    def _require_aware(moment: datetime) -> None:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("masking needs timezone-aware datetimes")

    def _check_number(self, field: str, value: str) -> str:
        return check_number(field, value, self._region, self._allowed_regions)

    def _live(self, session_id: str) -> StoredSession:
        stored = self._store.get(session_id) if is_ref(session_id) else None
        if stored is None or not stored.is_live(self._now()):
            raise SessionNotFound(session_id if is_ref(session_id) else "")
        return stored

    def _connect(self, session: StoredSession, source: str) -> Connect | Refuse:
        caller_role: Role = "customer" if session.customer_index == source else "courier"
        callee_sealed = session.courier_sealed if caller_role == "customer" else session.customer_sealed
        if callee_sealed is None:
            return self._refuse("closed", session.proxy_number, session.id)
        return Connect(
            session_id=session.id,
            dial_number=self._cipher.decrypt(callee_sealed),
            caller_id=session.proxy_number,
            order_ref=session.order_ref,
            case_ref=session.case_ref,
            callee_role="courier" if caller_role == "customer" else "customer",
            callee_ref=session.courier_ref if caller_role == "customer" else session.customer_ref,
            caller_role=caller_role,
            caller_ref=session.customer_ref if caller_role == "customer" else session.courier_ref,
        )

    def _refuse(
        self, code: RefusalCode, proxy: str | None, session_id: str | None, source: str | None = None
    ) -> Refuse:
        if source is not None and code in _COUNTED:
            self.limiter.record_failure(source)
        self._on_refusal(Refusal(code=code, proxy_number=proxy, session_id=session_id))
        return Refuse()

    def _unseal(self, stored: StoredSession) -> MaskingSession:
        def number(sealed: bytes | None) -> str | None:
            return None if sealed is None else self._cipher.decrypt(sealed)

        return MaskingSession(
            id=stored.id,
            order_ref=stored.order_ref,
            case_ref=stored.case_ref,
            customer=Participant("customer", stored.customer_ref, number(stored.customer_sealed)),
            courier=Participant("courier", stored.courier_ref, number(stored.courier_sealed)),
            proxy_number=stored.proxy_number,
            pin=stored.pin,
            created_at=stored.created_at,
            expires_at=stored.expires_at,
            closed_at=stored.closed_at,
            erased=stored.erased,
        )
