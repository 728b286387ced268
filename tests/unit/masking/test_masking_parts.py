"""The parts under the service: cipher, attempt limiter, proxy pool, session model."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from masking.crypto import NumberCipher, UndecryptableNumber
from masking.errors import PoolExhausted
from masking.model import MaskingSession, Participant
from masking.pool import ProxyPool
from masking.ratelimit import AttemptLimiter
from masking.store import InMemorySessionStore, StoredSession

KEY = "unit-test-masking-key-0123456789"
NUMBER = "+37251000001"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- cipher -------------------------------------------------------------------------------------


def test_cipher_round_trips_and_hides_the_number() -> None:
    cipher = NumberCipher(KEY)
    sealed = cipher.encrypt(NUMBER)
    assert cipher.decrypt(sealed) == NUMBER
    assert NUMBER.encode() not in sealed and b"51000001" not in sealed
    assert cipher.encrypt(NUMBER) != sealed  # fresh nonce each time


def test_blind_index_is_deterministic_keyed_hex() -> None:
    cipher = NumberCipher(KEY)
    index = cipher.blind_index(NUMBER)
    assert re.fullmatch(r"[0-9a-f]{64}", index)
    assert cipher.blind_index(NUMBER) == index
    assert NumberCipher(KEY).blind_index(NUMBER) == index
    assert NumberCipher(KEY + "x").blind_index(NUMBER) != index
    assert cipher.blind_index("+37251000002") != index


def test_index_key_and_encryption_key_differ() -> None:
    # the blind index must not be an encryption of anything: same input, unrelated outputs
    cipher = NumberCipher(KEY)
    assert bytes.fromhex(cipher.blind_index(NUMBER)) not in cipher.encrypt(NUMBER)


def test_wrong_key_or_damaged_data_does_not_decrypt() -> None:
    sealed = NumberCipher(KEY).encrypt(NUMBER)
    with pytest.raises(UndecryptableNumber, match="encryption_key"):
        NumberCipher(KEY + "x").decrypt(sealed)
    with pytest.raises(UndecryptableNumber):
        NumberCipher(KEY).decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(UndecryptableNumber):
        NumberCipher(KEY).decrypt(b"\x02" + sealed[1:])


def test_short_key_is_refused_and_repr_hides_it() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        NumberCipher("short")
    assert KEY not in repr(NumberCipher(KEY))


# -- attempt limiter ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_limiter_blocks_after_max_failures_within_the_window() -> None:
    clock = Clock()
    limiter = AttemptLimiter(3, clock)
    for _ in range(2):
        limiter.record_failure("a")
        assert not limiter.blocked("a")
    limiter.record_failure("a")
    assert limiter.blocked("a")
    assert not limiter.blocked("b")


def test_limiter_window_slides() -> None:
    clock = Clock()
    limiter = AttemptLimiter(2, clock)
    limiter.record_failure("a")
    clock.now += timedelta(minutes=5)
    limiter.record_failure("a")
    assert limiter.blocked("a")
    clock.now += timedelta(minutes=5)  # the first failure is now 10 minutes old
    assert not limiter.blocked("a")
    limiter.record_failure("a")
    assert limiter.blocked("a")


def test_limiter_forgets_idle_sources() -> None:
    clock = Clock()
    limiter = AttemptLimiter(2, clock)
    for source in ("a", "b", "c"):
        limiter.record_failure(source)
    assert len(limiter) == 3
    clock.now += timedelta(minutes=11)
    limiter.prune()
    assert len(limiter) == 0


def test_limiter_keeps_at_most_max_failures_per_source() -> None:
    clock = Clock()
    limiter = AttemptLimiter(2, clock)
    for _ in range(100):
        limiter.record_failure("a")
    assert len(limiter._failures["a"]) == 2


def test_limiter_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        AttemptLimiter(0, Clock())
    with pytest.raises(ValueError):
        AttemptLimiter(1, Clock(), window=timedelta(0))


# -- pool ---------------------------------------------------------------------------------------

POOL = ("+3726001001", "+3726001002", "+3726001003")


def test_pick_unique_rotates_and_skips_busy_numbers() -> None:
    pool = ProxyPool(POOL, single_number_mode=False, pin_digits=4)
    assert pool.pick_unique(set()) == POOL[0]
    assert pool.pick_unique(set()) == POOL[1]
    assert pool.pick_unique({POOL[2]}) == POOL[0]
    assert pool.pick_unique(set(POOL)) is None


def test_single_number_mode_reserves_the_first_number_for_pins() -> None:
    pool = ProxyPool(POOL, single_number_mode=True, pin_digits=4)
    assert pool.pin_proxy == POOL[0]
    picks = {pool.pick_unique(set()) for _ in range(4)}
    assert picks == {POOL[1], POOL[2]}
    assert ProxyPool(POOL, single_number_mode=False, pin_digits=4).pin_proxy is None


def test_fresh_pin_has_the_digits_and_avoids_used_ones() -> None:
    pool = ProxyPool(POOL, single_number_mode=True, pin_digits=3)
    used = {f"{n:03d}" for n in range(1000)} - {"042"}
    assert pool.fresh_pin(used) == "042"
    assert pool.fresh_pin(used | {"042"}) is None
    pins = {pool.fresh_pin(set()) for _ in range(50)}
    assert all(p is not None and len(p) == 3 and p.isdigit() for p in pins)
    assert len(pins) > 1


def _stored(proxy: str, pin: str | None, index: str, now: datetime, n: int) -> StoredSession:
    return StoredSession(
        id=f"s{n}", order_ref="o", case_ref=None,
        customer_ref=f"c{n}", customer_sealed=b"x", customer_index=index,
        courier_ref="k", courier_sealed=b"y", courier_index=f"courier{n}",
        proxy_number=proxy, pin=pin, created_at=now, expires_at=now + timedelta(hours=1),
        closed_at=None, erased=False,
    )  # fmt: skip


def test_allocate_refuses_a_pin_beside_a_leftover_pinless_session() -> None:
    store = InMemorySessionStore()
    # a PIN-less session on the PIN proxy, e.g. from before single-number mode was switched on
    store.add(_stored(POOL[0], None, "cust", T0, 1))
    pool = ProxyPool(POOL[:1], single_number_mode=True, pin_digits=4)
    with pytest.raises(PoolExhausted, match="PIN-less"):
        pool.allocate(store, "cust", "courier-new", T0)
    assert pool.allocate(store, "other", "courier-new", T0).pin is not None


def test_allocate_reports_pins_running_out() -> None:
    store = InMemorySessionStore()
    for n in range(1000):
        store.add(_stored(POOL[0], f"{n:03d}", f"cust{n}", T0, n))
    pool = ProxyPool(POOL[:1], single_number_mode=True, pin_digits=3)
    with pytest.raises(PoolExhausted, match="pin_digits"):
        pool.allocate(store, "new", "courier-new", T0)
    # once they expire, the PINs come back
    assert pool.allocate(store, "new", "courier-new", T0 + timedelta(hours=1)).pin is not None


# -- model --------------------------------------------------------------------------------------


def _session(**changes: object) -> MaskingSession:
    values: dict[str, object] = {
        "id": "s1",
        "order_ref": "o1",
        "case_ref": None,
        "customer": Participant("customer", "c1", "+37251000001"),
        "courier": Participant("courier", "k1", "+37252000001"),
        "proxy_number": POOL[0],
        "pin": None,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
        "closed_at": None,
        "erased": False,
    }
    values.update(changes)
    return MaskingSession(**values)  # type: ignore[arg-type]


def test_is_live_between_creation_and_expiry_unless_closed_or_erased() -> None:
    session = _session()
    assert session.is_live(T0)
    assert session.is_live(T0 + timedelta(minutes=59))
    assert not session.is_live(T0 + timedelta(hours=1))
    assert not session.is_live(T0 - timedelta(seconds=1))
    assert not _session(closed_at=T0).is_live(T0)
    assert not _session(erased=True).is_live(T0)


def test_other_party() -> None:
    session = _session()
    assert session.other_party("+37251000001") == session.courier
    assert session.other_party("+37252000001") == session.customer
    assert session.other_party("+37253000001") is None
    erased = _session(customer=Participant("customer", "c1", None))
    assert erased.other_party("+37252000001") == erased.customer
    assert erased.party("+37251000001") is None
