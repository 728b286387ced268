"""Masked-call sessions over HTTP: create, read, close, per order; errors; the courier's view."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import (
    BACK_OFFICE,
    COURIER,
    COURIER2_NUMBER,
    COURIER_NUMBER,
    CUSTOMER2_NUMBER,
    CUSTOMER_NUMBER,
    Env,
    MakeEnv,
    shop_settings,
)

POOL_OF_ONE = {
    'pool = ["+3726001001", "+3726001002"]': 'pool = ["+3726001001"]\nsingle_number_mode = false',
}
SINGLE_NUMBER = {'pool = ["+3726001001", "+3726001002"]': 'pool = ["+3726001001"]\nsingle_number_mode = true'}


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_ref": "order-1",
        "customer_ref": "cust-1",
        "customer_number": "+372 5100 0001",
        "courier_ref": "courier-7",
        "courier_number": COURIER_NUMBER,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def create(env: Env, **overrides: Any) -> tuple[int, dict[str, Any]]:
    response = await env.client.post("/api/masking/sessions", json=request_body(**overrides), headers=BACK_OFFICE)
    return response.status, await response.json()


async def test_create_returns_what_each_party_dials(env: Env) -> None:
    status, body = await create(env, case_ref="case-3", ttl_hours=2)
    assert status == 201
    assert set(body) == {"id", "proxy_number", "pin", "customer_dials", "courier_dials", "expires_at"}
    assert body["proxy_number"] in env.settings.masking.pool
    assert body["customer_dials"] == body["courier_dials"] == body["proxy_number"]
    assert body["expires_at"] == "2026-03-02T10:00:00+00:00"
    assert CUSTOMER_NUMBER not in str(body) and COURIER_NUMBER not in str(body)


async def test_single_number_mode_gives_a_pin_to_dial_after_the_number(make_env: MakeEnv) -> None:
    env = await make_env(shop_settings(SINGLE_NUMBER))
    status, body = await create(env)
    assert status == 201
    assert body["pin"] and body["pin"].isdigit()
    assert body["customer_dials"] == f"+3726001001,,{body['pin']}"


async def test_get_masks_numbers_unless_asked(env: Env) -> None:
    _, created = await create(env)
    response = await env.client.get(f"/api/masking/sessions/{created['id']}", headers=BACK_OFFICE)
    assert response.status == 200
    text = await response.text()
    assert CUSTOMER_NUMBER not in text and COURIER_NUMBER not in text
    body = await response.json()
    assert body["state"] == "live"
    assert body["customer"]["ref"] == "cust-1"
    assert body["customer"]["number"].startswith("+372") and body["customer"]["number"].endswith("01")
    response = await env.client.get(
        f"/api/masking/sessions/{created['id']}?include_numbers=1", headers=BACK_OFFICE
    )
    body = await response.json()
    assert body["customer"]["number"] == CUSTOMER_NUMBER
    assert body["courier"]["number"] == COURIER_NUMBER


async def test_close_then_404(env: Env) -> None:
    _, created = await create(env)
    response = await env.client.post(f"/api/masking/sessions/{created['id']}/close", headers=BACK_OFFICE)
    assert response.status == 200
    body = await response.json()
    assert body["state"] == "closed" and body["closed_at"]
    assert (await env.client.get(f"/api/masking/sessions/{created['id']}", headers=BACK_OFFICE)).status == 404
    again = await env.client.post(f"/api/masking/sessions/{created['id']}/close", headers=BACK_OFFICE)
    assert again.status == 404


async def test_delete_closes_too(env: Env) -> None:
    _, created = await create(env)
    response = await env.client.delete(f"/api/masking/sessions/{created['id']}", headers=BACK_OFFICE)
    assert response.status == 200
    assert (await response.json())["state"] == "closed"


async def test_unknown_and_expired_sessions_are_404(env: Env) -> None:
    assert (await env.client.get("/api/masking/sessions/" + "a" * 32, headers=BACK_OFFICE)).status == 404
    assert (await env.client.get("/api/masking/sessions/..%2F..", headers=BACK_OFFICE)).status == 404
    _, created = await create(env, ttl_hours=1)
    env.clock.advance(hours=2)
    response = await env.client.get(f"/api/masking/sessions/{created['id']}", headers=BACK_OFFICE)
    assert response.status == 404
    assert "expired" in (await response.json())["error"]


async def test_sessions_of_an_order_include_closed_ones(env: Env) -> None:
    _, first = await create(env)
    await env.client.post(f"/api/masking/sessions/{first['id']}/close", headers=BACK_OFFICE)
    env.clock.advance(minutes=1)  # oldest first: the second session must be younger
    _, second = await create(env, courier_number=COURIER2_NUMBER, courier_ref="courier-8")
    await create(env, order_ref="order-2", customer_number=CUSTOMER2_NUMBER)
    response = await env.client.get("/api/orders/order-1/masking-sessions", headers=BACK_OFFICE)
    assert response.status == 200
    body = await response.json()
    assert [(s["id"], s["state"]) for s in body["sessions"]] == [(first["id"], "closed"), (second["id"], "live")]
    assert CUSTOMER_NUMBER not in await response.text()


async def test_sessions_of_a_bad_order_ref_is_400(env: Env) -> None:
    response = await env.client.get("/api/orders/a%20b/masking-sessions", headers=BACK_OFFICE)
    assert response.status == 400
    assert (await response.json())["field"] == "order_ref"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_number": "12"}, "customer_number"),
        ({"customer_number": "+37290012345"}, "customer_number"),
        ({"courier_number": "+1 202 555 0143"}, "courier_number"),
        ({"courier_number": "+372 5100 0001"}, "courier_number"),  # the customer's own
        ({"customer_number": 37251000001}, "customer_number"),
        ({"order_ref": "order 1"}, "order_ref"),
        ({"order_ref": None}, "order_ref"),
        ({"case_ref": "a/b c"}, "case_ref"),
        ({"ttl_hours": 0}, "ttl_hours"),
        ({"ttl_hours": 100_000}, "ttl_hours"),
        ({"ttl_hours": "2"}, "ttl_hours"),
        ({"courier_ref": "courier-7\r\nX-Evil: 1"}, "courier_ref"),
        ({"customer_ref": "cust-1\n"}, "customer_ref"),
        ({"order_ref": "order-1 Via: SIP/2.0/UDP evil"}, "order_ref"),
        ({"case_ref": "X-Tugi-Case:1"}, "case_ref"),
        ({"customer_number": "+372 5100 0001\r\n"}, "customer_number"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(env: Env, overrides: dict[str, Any], field: str) -> None:
    status, body = await create(env, **overrides)
    assert status == 400, body
    assert body["field"] == field
    assert body["error"].startswith(field)
    assert "5100 0001" not in body["error"] and "+37251000001" not in body["error"]


async def test_body_must_be_a_json_object(env: Env) -> None:
    response = await env.client.post("/api/masking/sessions", data="order_ref=1", headers=BACK_OFFICE)
    assert response.status == 415
    response = await env.client.post(
        "/api/masking/sessions", data="{not json", headers={**BACK_OFFICE, "Content-Type": "application/json"}
    )
    assert response.status == 400
    response = await env.client.post("/api/masking/sessions", json=["a"], headers=BACK_OFFICE)
    assert response.status == 400


async def test_exhausted_pool_is_409(make_env: MakeEnv) -> None:
    env = await make_env(shop_settings(POOL_OF_ONE))
    status, _ = await create(env)
    assert status == 201
    # the same courier on another delivery would need a second proxy number, and there is none
    status, body = await create(env, order_ref="order-2", customer_ref="cust-2", customer_number=CUSTOMER2_NUMBER)
    assert status == 409
    assert body == {"error": "proxy-number pool exhausted and single-number mode is disabled"}


async def test_masking_not_configured_is_503(make_env: MakeEnv) -> None:
    env = await make_env(masking=False)
    status, body = await create(env)
    assert status == 503
    assert "masking.pool" in body["error"]
    assert (await env.client.get("/api/courier/sessions/" + "a" * 32, headers=COURIER)).status == 503


async def test_courier_view_never_shows_the_customer(env: Env) -> None:
    _, created = await create(env)
    response = await env.client.get(f"/api/courier/sessions/{created['id']}", headers=COURIER)
    assert response.status == 200
    text = await response.text()
    for secret in (CUSTOMER_NUMBER, "5100 0001", "51000001", "cust-1", COURIER_NUMBER):
        assert secret not in text
    body = await response.json()
    assert body == {
        "id": created["id"],
        "state": "live",
        "order_ref": "order-1",
        "proxy_number": created["proxy_number"],
        "pin": None,
        "dial": created["proxy_number"],
        "expires_at": created["expires_at"],
    }


async def test_courier_view_of_a_closed_session_is_404(env: Env) -> None:
    _, created = await create(env)
    await env.client.post(f"/api/masking/sessions/{created['id']}/close", headers=BACK_OFFICE)
    response = await env.client.get(f"/api/courier/sessions/{created['id']}", headers=COURIER)
    assert response.status == 404
    assert CUSTOMER_NUMBER not in await response.text()


async def test_courier_view_takes_no_parameters(env: Env) -> None:
    _, created = await create(env)
    response = await env.client.get(f"/api/courier/sessions/{created['id']}?include_numbers=1", headers=COURIER)
    assert response.status == 400
    assert (await response.json())["field"] == "include_numbers"
