"""MaskingService on the in-memory store with a fake clock: the behaviour the PBX and API rely on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from config.schema import Asterisk, Masking, Settings, Shop
from masking.crypto import NumberCipher
from masking.errors import MaskingInputError, PoolExhausted, SessionNotFound
from masking.model import Connect, NeedPin, Refusal, Refuse
from masking.service import Housekeeping, MaskingService
from masking.store import InMemorySessionStore

P1, P2, P3 = "+3726001001", "+3726001002", "+3726001003"
CUSTOMER, CUSTOMER2, CUSTOMER3 = "+37251000001", "+37251000002", "+37251000003"
COURIER, COURIER2 = "+37252000001", "+37252000002"
KEY = "unit-test-masking-key-0123456789"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Tallinn"))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class Harness:
    def __init__(self, **masking: object) -> None:
        masking.setdefault("pool", (P1, P2, P3))
        masking.setdefault("single_number_mode", False)
        masking.setdefault("encryption_key", KEY)
        self.settings = Settings(
            shop=Shop(name="Test", default_region="EE", allowed_regions=("EE", "LV", "GB")),
            asterisk=Asterisk(ami_secret="x"),
            masking=Masking(**masking),
        )
        self.clock = FakeClock()
        self.store = InMemorySessionStore()
        self.cipher = NumberCipher(KEY)
        self.refusals: list[Refusal] = []
        self.service = MaskingService(
            self.store, self.settings, self.clock, self.cipher, on_refusal=self.refusals.append
        )

    def open(self, customer: str = CUSTOMER, courier: str = COURIER, order: str = "order-1", **kw: object):
        ref = "cust-" + customer[-2:]
        return self.service.open_session(order, ref, customer, "courier-" + courier[-2:], courier, **kw)

    def last_code(self) -> str:
        return self.refusals[-1].code


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- open, get, close ---------------------------------------------------------------------------


def test_open_session_normalises_numbers_and_picks_a_pool_number(h: Harness) -> None:
    session = h.service.open_session("order-1", "cust-1", "5100 0001", "courier-1", "+372 5200 0001", case_ref="case-9")
    assert session.customer.number == CUSTOMER
    assert session.courier.number == COURIER
    assert session.customer.role == "customer" and session.courier.ref == "courier-1"
    assert session.proxy_number in h.settings.masking.pool
    assert session.pin is None
    assert session.case_ref == "case-9"
    assert session.expires_at - session.created_at == timedelta(hours=72)
    assert session.is_live(h.clock.now)
    assert h.service.get(session.id) == session


def test_ttl_overrides_the_configured_lifetime(h: Harness) -> None:
    session = h.open(ttl=timedelta(hours=2))
    assert session.expires_at == h.clock.now + timedelta(hours=2)


def test_store_holds_no_number_in_clear(h: Harness) -> None:
    h.open()
    [stored] = h.store.all()
    text = repr(stored)
    for form in (CUSTOMER, COURIER, CUSTOMER[1:], COURIER[1:], "51000001", "52000001"):
        assert form not in text
        assert form.encode() not in (stored.customer_sealed or b"") + (stored.courier_sealed or b"")
    assert stored.customer_index == h.cipher.blind_index(CUSTOMER)


def test_close_ends_the_session_and_a_second_close_is_not_found(h: Harness) -> None:
    session = h.open()
    closed = h.service.close(session.id)
    assert closed.closed_at == h.clock.now
    with pytest.raises(SessionNotFound) as closed_error:
        h.service.close(session.id)
    with pytest.raises(SessionNotFound) as unknown_error:
        h.service.get("no-such-session")
    assert str(closed_error.value) == str(unknown_error.value)
    with pytest.raises(SessionNotFound):
        h.service.get(session.id)


def test_unsafe_session_id_is_simply_not_found(h: Harness) -> None:
    with pytest.raises(SessionNotFound):
        h.service.get("abc\r\nX-Injected: 1")


def test_sessions_for_order_lists_open_and_closed(h: Harness) -> None:
    first = h.open()
    h.service.close(first.id)
    h.clock.advance(seconds=1)
    second = h.open(customer=CUSTOMER2)
    h.open(order="order-2", customer=CUSTOMER3)
    assert [s.id for s in h.service.sessions_for_order("order-1")] == [first.id, second.id]


# -- validation ---------------------------------------------------------------------------------

VALID = {
    "order_ref": "order-1",
    "customer_ref": "cust-1",
    "customer_number": CUSTOMER,
    "courier_ref": "courier-1",
    "courier_number": COURIER,
}
PREMIUM_GB = phonenumbers.format_number(
    phonenumbers.example_number_for_type("GB", PhoneNumberType.PREMIUM_RATE), phonenumbers.PhoneNumberFormat.E164
)
PREMIUM_EE = phonenumbers.format_number(
    phonenumbers.example_number_for_type("EE", PhoneNumberType.PREMIUM_RATE), phonenumbers.PhoneNumberFormat.E164
)
SHARED_COST_LV = phonenumbers.format_number(
    phonenumbers.example_number_for_type("LV", PhoneNumberType.SHARED_COST), phonenumbers.PhoneNumberFormat.E164
)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("order_ref", "", "required"),
        ("order_ref", "order 1", "letters, digits"),
        ("order_ref", "order-1\n", "line break"),
        ("order_ref", "x" * 65, "1-64"),
        ("customer_ref", "cust\r\nAction: Originate", "line break"),
        ("customer_ref", "cust\x00", "control"),
        ("courier_ref", "kuller;Dial", "letters, digits"),
        ("case_ref", "case&PJSIP/evil", "letters, digits"),
        ("customer_number", "not a number", "only digits"),
        ("customer_number", "+372 5100\r\n0001", "line break"),
        ("customer_number", "+372 123", "not a valid phone number"),
        ("customer_number", PREMIUM_EE, "premium-rate"),
        ("customer_number", PREMIUM_GB, "premium-rate"),
        ("courier_number", SHARED_COST_LV, "shared-cost"),
        ("courier_number", "+358412345678", "region FI"),
        ("courier_number", "", "required"),
        ("courier_number", 37252000001, "must be a string"),
        ("order_ref", None, "must be a string"),
    ],
)
def test_bad_input_names_the_field(h: Harness, field: str, value: object, fragment: str) -> None:
    with pytest.raises(MaskingInputError) as error:
        h.service.open_session(**{**VALID, field: value})
    assert error.value.field == field
    assert fragment in error.value.message
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    if len(digits) >= 6:
        assert digits not in str(error.value), "an error message must not repeat a number"
    assert h.store.all() == []


def test_premium_example_numbers_are_really_premium() -> None:
    for number in (PREMIUM_EE, PREMIUM_GB):
        assert phonenumbers.number_type(phonenumbers.parse(number)) == PhoneNumberType.PREMIUM_RATE


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1), timedelta(days=91)])
def test_bad_ttl_names_the_field(h: Harness, ttl: timedelta) -> None:
    with pytest.raises(MaskingInputError) as error:
        h.open(ttl=ttl)
    assert error.value.field == "ttl"


def test_customer_and_courier_with_the_same_number_are_refused(h: Harness) -> None:
    with pytest.raises(MaskingInputError) as error:
        h.service.open_session("order-1", "cust-1", "+372 5100 0001", "courier-1", "51000001")
    assert error.value.field == "courier_number"
    assert "same" in error.value.message


def test_unsafe_order_ref_is_refused_when_listing(h: Harness) -> None:
    with pytest.raises(MaskingInputError) as error:
        h.service.sessions_for_order("o\n1")
    assert error.value.field == "order_ref"


# -- resolution ---------------------------------------------------------------------------------


def test_each_party_reaches_the_other_with_the_proxy_as_caller_id(h: Harness) -> None:
    session = h.open(case_ref="case-7")
    from_courier = h.service.resolve(COURIER, session.proxy_number)
    assert from_courier == Connect(
        session_id=session.id,
        dial_number=CUSTOMER,
        caller_id=session.proxy_number,
        order_ref="order-1",
        case_ref="case-7",
        callee_role="customer",
        callee_ref=session.customer.ref,
        caller_role="courier",
        caller_ref=session.courier.ref,
    )
    from_customer = h.service.resolve(CUSTOMER, session.proxy_number)
    assert isinstance(from_customer, Connect)
    assert from_customer.dial_number == COURIER
    assert (from_customer.caller_role, from_customer.callee_role) == ("customer", "courier")


def test_carrier_may_send_national_formats(h: Harness) -> None:
    session = h.open()
    national_proxy = session.proxy_number.removeprefix("+372")
    assert isinstance(h.service.resolve("51000001", national_proxy), Connect)
    assert isinstance(h.service.resolve("0037251000001", session.proxy_number), Connect)


def test_two_live_sessions_share_one_proxy_and_resolve_per_caller() -> None:
    h = Harness(pool=(P1,))
    first = h.open(customer=CUSTOMER, courier=COURIER)
    second = h.open(customer=CUSTOMER2, courier=COURIER2, order="order-2")
    assert first.proxy_number == second.proxy_number == P1
    assert first.pin is None and second.pin is None

    def dial(caller: str) -> str:
        result = h.service.resolve(caller, P1)
        assert isinstance(result, Connect)
        return result.dial_number

    assert dial(COURIER) == CUSTOMER
    assert dial(CUSTOMER) == COURIER
    assert dial(COURIER2) == CUSTOMER2
    assert dial(CUSTOMER2) == COURIER2


def test_allocation_avoids_proxies_either_party_already_uses(h: Harness) -> None:
    proxies = {h.open(customer=c).proxy_number for c in (CUSTOMER, CUSTOMER2, CUSTOMER3)}
    assert proxies == {P1, P2, P3}  # the courier is on all three now
    with pytest.raises(PoolExhausted) as error:
        h.open(customer="+37251000004")
    assert str(error.value) == "proxy-number pool exhausted and single-number mode is disabled"


def test_allocation_rotates_so_load_spreads(h: Harness) -> None:
    pairs = [(f"+3725100000{i}", f"+3725200000{i}") for i in range(6)]
    proxies = [h.open(customer=c, courier=k).proxy_number for c, k in pairs]
    assert proxies == [P1, P2, P3, P1, P2, P3]


def test_a_closed_session_frees_its_proxy_for_the_same_party() -> None:
    h = Harness(pool=(P1,))
    first = h.open()
    with pytest.raises(PoolExhausted):
        h.open(customer=CUSTOMER2)
    h.service.close(first.id)
    assert h.open(customer=CUSTOMER2).proxy_number == P1


def test_empty_pool_is_exhausted() -> None:
    h = Harness(pool=())
    with pytest.raises(PoolExhausted) as error:
        h.open()
    assert "masking.pool" in str(error.value)


def test_single_number_mode_uses_pins_on_the_first_pool_number() -> None:
    h = Harness(pool=(P1, P2), single_number_mode=True, pin_digits=4)
    plain = h.open(customer=CUSTOMER)
    pinned_a = h.open(customer=CUSTOMER2, order="order-2")
    pinned_b = h.open(customer=CUSTOMER3, order="order-3")
    assert (plain.proxy_number, plain.pin) == (P2, None)
    assert pinned_a.proxy_number == pinned_b.proxy_number == P1
    assert pinned_a.pin and pinned_b.pin and pinned_a.pin != pinned_b.pin
    assert len(pinned_a.pin) == 4 and pinned_a.pin.isdigit()

    assert h.service.resolve(COURIER, P1) == NeedPin(P1)
    to_a = h.service.resolve(COURIER, P1, pinned_a.pin)
    to_b = h.service.resolve(COURIER, P1, pinned_b.pin)
    assert isinstance(to_a, Connect) and to_a.dial_number == CUSTOMER2 and to_a.caller_id == P1
    assert isinstance(to_b, Connect) and to_b.dial_number == CUSTOMER3
    from_customer = h.service.resolve(CUSTOMER2, P1, pinned_a.pin)
    assert isinstance(from_customer, Connect) and from_customer.dial_number == COURIER
    assert isinstance(h.service.resolve(COURIER, P2), Connect)

    wrong = next(p for p in ("0000", "1111", "2222") if p not in (pinned_a.pin, pinned_b.pin))
    assert h.service.resolve(COURIER, P1, wrong) == Refuse()
    assert h.last_code() == "bad_pin"
    # a customer cannot use another customer's PIN on the shared number
    assert h.service.resolve(CUSTOMER2, P1, pinned_b.pin) == Refuse()
    assert h.service.resolve(COURIER, P1, "12a4") == Refuse()


def test_single_number_pool_of_one_gives_every_session_a_pin() -> None:
    h = Harness(pool=(P1,), single_number_mode=True)
    sessions = [h.open(customer=c) for c in (CUSTOMER, CUSTOMER2, CUSTOMER3)]
    assert all(s.proxy_number == P1 and s.pin for s in sessions)
    assert len({s.pin for s in sessions}) == 3


# -- refusals -----------------------------------------------------------------------------------


def test_refuse_carries_nothing() -> None:
    assert dataclasses.fields(Refuse) == ()
    assert Refuse() == Refuse()


def test_stranger_is_refused(h: Harness) -> None:
    session = h.open()
    assert h.service.resolve("+37251999999", session.proxy_number) == Refuse()
    assert h.last_code() == "stranger"
    # a party of another proxy's session is a stranger here too
    other = next(p for p in (P1, P2, P3) if p != session.proxy_number)
    assert h.service.resolve(COURIER, other) == Refuse()
    assert h.last_code() == "stranger"


@pytest.mark.parametrize("caller", [None, "", "anonymous", "Restricted", "unknown"])
def test_withheld_caller_is_refused(h: Harness, caller: str | None) -> None:
    session = h.open()
    assert h.service.resolve(caller, session.proxy_number) == Refuse()
    assert h.last_code() == "withheld"


def test_unparseable_caller_and_foreign_proxy_are_refused(h: Harness) -> None:
    session = h.open()
    assert h.service.resolve("+999 1", session.proxy_number) == Refuse()
    assert h.last_code() == "bad_caller"
    assert h.service.resolve(COURIER, "+3726009999") == Refuse()
    assert h.refusals[-1] == Refusal(code="unknown_proxy", proxy_number=None)
    assert h.service.resolve(COURIER, "garbage\r\n") == Refuse()
    assert h.last_code() == "unknown_proxy"


def test_expired_session_is_refused_then_closed_by_housekeeping(h: Harness) -> None:
    session = h.open(ttl=timedelta(hours=1))
    h.clock.advance(hours=1)
    assert h.service.resolve(COURIER, session.proxy_number) == Refuse()
    assert h.refusals[-1] == Refusal("expired", session.proxy_number, session.id)
    with pytest.raises(SessionNotFound):
        h.service.get(session.id)
    assert h.service.expire_and_purge() == Housekeeping(expired=1, purged=0)
    assert h.service.resolve(COURIER, session.proxy_number) == Refuse()
    assert h.last_code() == "closed"


def test_closed_session_is_refused(h: Harness) -> None:
    session = h.open()
    h.service.close(session.id)
    assert h.service.resolve(CUSTOMER, session.proxy_number) == Refuse()
    assert h.refusals[-1] == Refusal("closed", session.proxy_number, session.id)


def test_refusal_events_never_carry_a_number(h: Harness) -> None:
    session = h.open()
    h.service.close(session.id)
    for caller in (CUSTOMER, "+37251999999", None, "+999 1"):
        h.service.resolve(caller, session.proxy_number)
    h.service.resolve(COURIER, "+3726009999")
    for refusal in h.refusals:
        text = repr(refusal)
        for digits in ("51000001", "52000001", "51999999", "6009999"):
            assert digits not in text


# -- rate limit ---------------------------------------------------------------------------------


def test_failed_attempts_block_a_source_even_with_a_valid_session() -> None:
    h = Harness(max_failed_attempts=3)
    session = h.open()
    other = next(p for p in (P1, P2, P3) if p != session.proxy_number)
    for _ in range(3):
        assert h.service.resolve(COURIER, other) == Refuse()  # probing a proxy it has no session on
    assert h.service.resolve(COURIER, session.proxy_number) == Refuse()
    assert h.last_code() == "rate_limited"
    # other sources are not affected
    assert isinstance(h.service.resolve(CUSTOMER, session.proxy_number), Connect)
    h.clock.advance(minutes=9, seconds=59)
    assert h.service.resolve(COURIER, session.proxy_number) == Refuse()
    h.clock.advance(seconds=1)
    assert isinstance(h.service.resolve(COURIER, session.proxy_number), Connect)


def test_wrong_pins_count_towards_the_limit() -> None:
    h = Harness(pool=(P1,), single_number_mode=True, max_failed_attempts=2)
    session = h.open()
    wrong = "0000" if session.pin != "0000" else "1111"
    h.service.resolve(COURIER, P1, wrong)
    h.service.resolve(COURIER, P1, wrong)
    assert h.service.resolve(COURIER, P1, session.pin) == Refuse()
    assert h.last_code() == "rate_limited"


def test_withheld_and_foreign_proxy_do_not_count() -> None:
    h = Harness(max_failed_attempts=1)
    session = h.open()
    h.service.resolve(COURIER, "+3726009999")
    h.service.resolve(None, session.proxy_number)
    assert isinstance(h.service.resolve(COURIER, session.proxy_number), Connect)


# -- expiry, retention, erasure -----------------------------------------------------------------


def test_expire_and_purge_drops_numbers_after_retention() -> None:
    h = Harness(retention_days=30)
    session = h.open(ttl=timedelta(hours=2))
    h.clock.advance(hours=3)
    assert h.service.expire_and_purge() == Housekeeping(expired=1, purged=0)
    [kept] = h.service.sessions_for_order("order-1")
    assert kept.closed_at == session.expires_at
    assert kept.customer.number == CUSTOMER  # still there for the back office during retention
    h.clock.advance(days=30)
    assert h.service.expire_and_purge() == Housekeeping(expired=0, purged=1)
    [purged] = h.service.sessions_for_order("order-1")
    assert purged.erased and purged.customer.number is None and purged.courier.number is None
    assert purged.customer.ref == session.customer.ref
    [stored] = h.store.all()
    assert (stored.customer_sealed, stored.customer_index, stored.courier_sealed, stored.courier_index) == (
        None,
        None,
        None,
        None,
    )
    assert h.service.expire_and_purge() == Housekeeping(expired=0, purged=0)


def test_zero_retention_purges_at_once_but_keeps_live_sessions() -> None:
    h = Harness(retention_days=0)
    done = h.open(ttl=timedelta(hours=1))
    live = h.open(customer=CUSTOMER2, order="order-2")
    h.clock.advance(hours=2)
    assert h.service.expire_and_purge() == Housekeeping(expired=1, purged=1)
    assert h.service.sessions_for_order("order-1")[0].erased
    assert h.service.get(live.id).customer.number == CUSTOMER2
    assert done.id != live.id


def test_expire_and_purge_accepts_an_explicit_time(h: Harness) -> None:
    h.open(ttl=timedelta(hours=1))
    assert h.service.expire_and_purge(datetime(2030, 1, 1, tzinfo=UTC)).expired == 1
    with pytest.raises(ValueError):
        h.service.expire_and_purge(datetime(2030, 1, 1))


def test_erase_customer_removes_their_numbers_everywhere(h: Harness) -> None:
    live = h.open(customer=CUSTOMER, order="order-1")
    old = h.open(customer=CUSTOMER, courier=COURIER2, order="order-0")
    h.service.close(old.id)
    other = h.open(customer=CUSTOMER2, order="order-2")

    assert h.service.erase_customer(live.customer.ref) == 2
    for order in ("order-0", "order-1"):
        [session] = h.service.sessions_for_order(order)
        assert session.erased and session.customer.number is None and session.closed_at is not None
    assert h.service.resolve(COURIER, live.proxy_number) == Refuse()
    assert isinstance(h.service.resolve(COURIER, other.proxy_number), Connect)
    index = h.cipher.blind_index(CUSTOMER)
    for stored in h.store.all():
        assert index not in (stored.customer_index, stored.courier_index)
    assert h.service.erase_customer(live.customer.ref) == 0
    with pytest.raises(MaskingInputError):
        h.service.erase_customer("bad ref")


def test_naive_clock_is_refused() -> None:
    h = Harness()
    h.clock.now = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        h.open()
