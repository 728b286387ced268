"""Numbers at rest: encrypted, findable by a keyed index, shown masked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.protect import AesGcmProtector, NumberProtector, mask_number, normalise_contact

KEY = "unit-test-key-8c2e41f0a9"


def test_encrypt_round_trips_and_hides_the_number() -> None:
    protector = AesGcmProtector(KEY)
    token = protector.encrypt("+37255512301")
    assert b"55512301" not in token
    assert protector.decrypt(token) == "+37255512301"
    assert protector.encrypt("+37255512301") != token  # a fresh nonce each time


@given(st.text(max_size=40))
def test_any_text_round_trips(value: str) -> None:
    protector = AesGcmProtector(KEY)
    assert protector.decrypt(protector.encrypt(value)) == value


def test_blind_index_is_stable_keyed_and_hex() -> None:
    one, other = AesGcmProtector(KEY), AesGcmProtector(KEY + "x")
    index = one.blind_index("+37255512301")
    assert index == AesGcmProtector(KEY).blind_index("+37255512301")
    assert index != other.blind_index("+37255512301")
    assert index != one.blind_index("+37255512302")
    assert len(index) == 64 and int(index, 16) >= 0


def test_a_wrong_key_or_damaged_token_is_refused() -> None:
    token = AesGcmProtector(KEY).encrypt("+37255512301")
    with pytest.raises(ValueError, match="wrong key"):
        AesGcmProtector(KEY + "x").decrypt(token)
    damaged = token[:-1] + bytes([token[-1] ^ 1])
    with pytest.raises(ValueError, match="damaged"):
        AesGcmProtector(KEY).decrypt(damaged)
    with pytest.raises(ValueError, match="version"):
        AesGcmProtector(KEY).decrypt(b"\x02" + token[1:])


def test_a_short_key_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"at least 16 .*masking.encryption_key"):
        AesGcmProtector("short")


def test_it_satisfies_the_protocol() -> None:
    assert isinstance(AesGcmProtector(KEY), NumberProtector)


@pytest.mark.parametrize(
    ("number", "shown"),
    [("+37255512301", "+372••••••01"), ("+3725551201", "+372•••••01"), ("1001", "••01"), ("7", "•"), ("", "")],
)
def test_mask_number(number: str, shown: str) -> None:
    assert mask_number(number) == shown


def test_contacts_are_indexed_in_one_form() -> None:
    assert normalise_contact("phone", " +372 5551 2301 ") == "+37255512301"
    assert normalise_contact("email", " Mari@Example.COM ") == "mari@example.com"
    with pytest.raises(ValueError, match="unknown contact kind"):
        normalise_contact("fax", "1")
