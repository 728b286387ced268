"""Back-office tokens, the courier role, and JSON errors for whatever goes wrong."""

from __future__ import annotations

import pytest
from conftest import BACK_OFFICE, COURIER, Env


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": "Basic dGVzdDp0ZXN0"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer tëst-ünicode"},
    ],
    ids=["none", "wrong", "basic", "empty", "non-ascii"],
)
async def test_back_office_refuses_missing_or_bad_tokens(env: Env, headers: dict[str, str]) -> None:
    response = await env.client.get("/api/calls", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/json"
    body = await response.json()
    assert "token" in body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_back_office_token_is_accepted_whatever_the_scheme_case(env: Env) -> None:
    token = BACK_OFFICE["Authorization"].removeprefix("Bearer ")
    response = await env.client.get("/api/calls", headers={"Authorization": f"bearer {token}"})
    assert response.status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/calls"),
        ("GET", "/api/calls.csv"),
        ("GET", "/api/customers/cust-1/timeline"),
        ("GET", "/api/stats"),
        ("POST", "/api/masking/sessions"),
        ("GET", "/api/orders/order-1/masking-sessions"),
        ("POST", "/api/gdpr/erase"),
        ("PUT", "/api/staff/alice/status"),
    ],
)
async def test_courier_token_opens_only_the_courier_view(env: Env, method: str, path: str) -> None:
    response = await env.client.request(method, path, headers=COURIER)
    assert response.status == 403
    assert "courier" in (await response.json())["error"]


async def test_courier_view_needs_a_token(env: Env) -> None:
    response = await env.client.get("/api/courier/sessions/abc")
    assert response.status == 401


async def test_back_office_token_may_use_the_courier_view(env: Env) -> None:
    response = await env.client.get("/api/courier/sessions/" + "0" * 32, headers=BACK_OFFICE)
    assert response.status == 404  # authorised, just no such session


async def test_unknown_back_office_path_asks_for_a_token_before_saying_404(env: Env) -> None:
    assert (await env.client.get("/api/nothing-here")).status == 401
    response = await env.client.get("/api/nothing-here", headers=BACK_OFFICE)
    assert response.status == 404
    assert (await response.json()) == {"error": "not found"}


async def test_wrong_method_is_a_json_405_with_allow(env: Env) -> None:
    response = await env.client.post("/api/calls", headers=BACK_OFFICE)
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    assert "error" in await response.json()


async def test_openapi_needs_no_token(env: Env) -> None:
    response = await env.client.get("/api/openapi.json")
    assert response.status == 200
    assert (await response.json())["openapi"] == "3.1.0"


async def test_oversized_body_is_a_json_413(env: Env) -> None:
    body = '{"customer_id": "' + "x" * 20_000 + '"}'
    response = await env.client.post(
        "/api/gdpr/erase", data=body, headers={**BACK_OFFICE, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert "too large" in (await response.json())["error"]
