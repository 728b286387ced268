"""Property tests: whatever sessions come and go, every live one stays reachable and unambiguous."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from config.schema import Asterisk, Masking, Settings, Shop
from masking.crypto import NumberCipher
from masking.errors import MaskingInputError, PoolExhausted, SessionNotFound
from masking.model import Connect, MaskingSession, NeedPin
from masking.service import MaskingService
from masking.store import InMemorySessionStore

POOL = ("+3726001001", "+3726001002", "+3726001003", "+3726001004")
# One set of numbers for both roles, so a courier can also be somebody's customer.
NUMBERS = tuple(f"+3725100000{i}" for i in range(6))
KEY = "property-test-masking-key-012345"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Tallinn"))

    def __call__(self) -> datetime:
        return self.now


class MaskingMachine(RuleBasedStateMachine):
    @initialize(
        pool_size=st.integers(1, len(POOL)),
        single=st.booleans(),
        retention_days=st.integers(0, 2),
        pin_digits=st.sampled_from([1, 3]),
    )
    def setup(self, pool_size: int, single: bool, retention_days: int, pin_digits: int) -> None:
        self.clock = Clock()
        self.store = InMemorySessionStore()
        self.cipher = NumberCipher(KEY)
        self.config = Settings(
            shop=Shop(name="Test"),
            asterisk=Asterisk(ami_secret="x"),
            # model_construct: the config floor of 3 PIN digits would make PIN clashes and
            # running out of PINs too rare for the search to reach
            masking=Masking.model_construct(
                pool=POOL[:pool_size],
                single_number_mode=single,
                pin_digits=pin_digits,
                retention_days=retention_days,
                max_failed_attempts=100,
                encryption_key=KEY,
            ),
        )
        self.service = MaskingService(self.store, self.config, self.clock, self.cipher)
        self.ids: list[str] = []

    @rule(customer=st.sampled_from(NUMBERS), courier=st.sampled_from(NUMBERS), hours=st.integers(1, 48))
    def open(self, customer: str, courier: str, hours: int) -> None:
        before = self._live()
        try:
            session = self.service.open_session(
                f"order-{len(self.ids)}", "cust-" + customer[-1], customer, "kull-" + courier[-1], courier,
                ttl=timedelta(hours=hours),
            )  # fmt: skip
        except MaskingInputError as error:
            assert customer == courier and error.field == "courier_number"
            return
        except PoolExhausted:
            event("pool exhausted")
            self._assert_really_exhausted(before, customer, courier)
            return
        assert customer != courier
        event("opened with a PIN" if session.pin else "opened without a PIN")
        self.ids.append(session.id)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        session_id = data.draw(st.sampled_from(self.ids))
        try:
            self.service.close(session_id)
        except SessionNotFound:
            assert session_id not in {s.id for s in self._live()}

    @rule(minutes=st.integers(1, 60 * 30))
    def wait(self, minutes: int) -> None:
        self.clock.now += timedelta(minutes=minutes)

    @rule()
    def housekeeping(self) -> None:
        self.service.expire_and_purge()

    @rule(customer=st.sampled_from(NUMBERS))
    def erase(self, customer: str) -> None:
        self.service.erase_customer("cust-" + customer[-1])

    @invariant()
    def live_sessions_never_collide(self) -> None:
        if not hasattr(self, "service"):
            return
        claims: dict[tuple[str, str], list[str | None]] = defaultdict(list)
        for session in self._live():
            for party in (session.customer, session.courier):
                assert party.number is not None
                claims[(party.number, session.proxy_number)].append(session.pin)
        for pins in claims.values():
            # one PIN-less session, or PIN sessions only, all with distinct PINs
            assert len(pins) == len(set(pins))
            assert None not in pins or len(pins) == 1

    @invariant()
    def every_live_party_reaches_its_own_other_party(self) -> None:
        if not hasattr(self, "service"):
            return
        for session in self._live():
            for party, other in ((session.customer, session.courier), (session.courier, session.customer)):
                assert party.number is not None
                result = self.service.resolve(party.number, session.proxy_number, session.pin)
                assert isinstance(result, Connect), (result, session)
                assert result.session_id == session.id
                assert result.dial_number == other.number
                assert result.caller_id == session.proxy_number
                assert (result.callee_role, result.callee_ref) == (other.role, other.ref)
                if session.pin is not None:
                    assert self.service.resolve(party.number, session.proxy_number) == NeedPin(
                        session.proxy_number
                    )

    def _live(self) -> list[MaskingSession]:
        live = []
        for session_id in self.ids:
            with contextlib.suppress(SessionNotFound):
                live.append(self.service.get(session_id))
        return live

    def _assert_really_exhausted(self, live: list[MaskingSession], customer: str, courier: str) -> None:
        """PoolExhausted only when every PIN-less proxy carries one of the two parties and no PIN is left."""
        masking = self.config.masking
        unique = masking.pool[1:] if masking.single_number_mode else masking.pool
        busy = {s.proxy_number for s in live for p in (s.customer, s.courier) if p.number in (customer, courier)}
        assert set(unique) <= busy
        if masking.single_number_mode:
            # the PIN proxy never holds PIN-less sessions, so only running out of PINs stops it
            pins_there = {s.pin for s in live if s.proxy_number == masking.pool[0]}
            assert None not in pins_there
            assert len(pins_there) >= 10**masking.pin_digits


TestMaskingMachine = MaskingMachine.TestCase
TestMaskingMachine.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
