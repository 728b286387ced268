"""The widget's endpoints: presence, call tokens, call backs — Origin-checked, rate-limited, no token."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import BACK_OFFICE, ORIGIN, PHOTO, WIDGET, Env, MakeEnv

from pbx_bridge.call_tokens import CallTokens
from web.limits import PublicLimits
from web.ratelimit import Rate


async def _online(env: Env, *staff_ids: str) -> None:
    for staff_id in staff_ids:
        await env.presence.on_event({"Event": "ContactStatus", "AOR": staff_id, "ContactStatus": "Reachable"})
        await env.presence.on_event(
            {"Event": "DeviceStateChange", "Device": f"PJSIP/{staff_id}", "State": "NOT_INUSE"}
        )


# -- presence ----------------------------------------------------------------------------------


async def test_presence_holds_only_id_name_photo_and_state(env: Env) -> None:
    await _online(env, "alice", "bob")
    await env.presence.set_status("bob", "dnd")
    response = await env.client.get("/api/public/presence", headers=WIDGET)
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"staff", "team", "open_now", "hours"}
    assert all(set(person) == {"id", "name", "photo_url", "state"} for person in body["staff"])
    assert {p["id"]: p["state"] for p in body["staff"]} == {
        "alice": "available", "bob": "busy", "carol": "offline", "dan": "offline"
    }
    assert body["staff"][0] == {"id": "alice", "name": "Alice Aas", "photo_url": PHOTO, "state": "available"}
    assert body["team"] == "available"
    assert body["open_now"] is True
    assert body["hours"] == "Monday 09:00-17:00"
    assert "dnd" not in await response.text()


async def test_presence_team_and_hours_when_closed(env: Env) -> None:
    env.clock.advance(hours=9)  # Monday 19:00
    body = await (await env.client.get("/api/public/presence", headers=WIDGET)).json()
    assert body["open_now"] is False
    assert body["team"] == "offline"


async def test_cors_headers_for_an_allowed_origin(env: Env) -> None:
    response = await env.client.get("/api/public/presence", headers=WIDGET)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]


async def test_origin_not_allowed_is_403(env: Env) -> None:
    response = await env.client.get("/api/public/presence", headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "allowed_origins" in (await response.json())["error"]
    for path in ("/api/public/call-token", "/api/public/callback"):
        response = await env.client.post(path, json={"target": "team"}, headers={"Origin": "null"})
        assert response.status == 403


async def test_get_without_origin_is_served_but_post_is_not(env: Env) -> None:
    response = await env.client.get("/api/public/presence")
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await env.client.post("/api/public/call-token", json={"target": "team"})
    assert response.status == 403


async def test_preflight(env: Env) -> None:
    response = await env.client.options(
        "/api/public/callback",
        headers={**WIDGET, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    bad = await env.client.options("/api/public/callback", headers={"Origin": "https://evil.example"})
    assert bad.status == 403


async def test_public_endpoints_need_no_token_and_ignore_one(env: Env) -> None:
    response = await env.client.get("/api/public/presence", headers={**WIDGET, "Authorization": "Bearer junk"})
    assert response.status == 200


async def test_rate_limit_is_429_with_retry_after(make_env: MakeEnv) -> None:
    env = await make_env(limits=PublicLimits(requests=Rate(per_second=0.5, burst=3)))
    for _ in range(3):
        assert (await env.client.get("/api/public/presence", headers=WIDGET)).status == 200
    response = await env.client.get("/api/public/presence", headers=WIDGET)
    assert response.status == 429
    assert response.headers["Retry-After"] == "2"
    # the widget's script may read the refusal: it carries the CORS headers too
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "too many" in (await response.json())["error"]
    # the back office is not limited by the widget's budget
    assert (await env.client.get("/api/calls", headers=BACK_OFFICE)).status == 200
    env.clock.advance(seconds=2)
    assert (await env.client.get("/api/public/presence", headers=WIDGET)).status == 200


# -- call tokens -------------------------------------------------------------------------------


async def test_call_token_round_trip(env: Env) -> None:
    response = await env.client.post(
        "/api/public/call-token", json={"target": "alice", "page_ref": "product/42"}, headers=WIDGET
    )
    assert response.status == 200
    body = await response.json()
    grant = CallTokens("test-call-token-key", "testshop").verify(body["token"], env.clock())
    assert (grant.target, grant.page_ref) == ("alice", "product/42")
    assert datetime.fromisoformat(body["expires_at"]) == grant.expires_at == env.clock() + timedelta(minutes=2)
    assert body["sip"] == {
        "ws_url": "ws://127.0.0.1:18088/ws",
        "user": "tugi-web-guest",
        "password": "tugi-web-guest",
        "extension": "alice",
    }
    assert response.headers["Cache-Control"] == "no-store"


async def test_call_token_for_the_team(env: Env) -> None:
    body = await (await env.client.post("/api/public/call-token", json={"target": "team"}, headers=WIDGET)).json()
    assert CallTokens("test-call-token-key", "testshop").verify(body["token"], env.clock()).target == "team"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "target"),
        ({"target": "zed"}, "target"),
        ({"target": 7}, "target"),
        ({"target": "alice", "page_ref": "a b"}, "page_ref"),
        ({"target": "alice", "page_ref": "x" * 65}, "page_ref"),
        ({"target": "alice", "page_ref": "p\r\nX-Evil: 1"}, "page_ref"),
        ({"target": "alice", "extra": 1}, "extra"),
    ],
)
async def test_call_token_bad_requests(env: Env, body: dict[str, Any], field: str) -> None:
    response = await env.client.post("/api/public/call-token", json=body, headers=WIDGET)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_call_token_not_configured_is_503(make_env: MakeEnv) -> None:
    env = await make_env(tokens=False)
    response = await env.client.post("/api/public/call-token", json={"target": "team"}, headers=WIDGET)
    assert response.status == 503


# -- call backs --------------------------------------------------------------------------------


async def _callback(env: Env, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await env.client.post("/api/public/callback", json=body, headers=WIDGET)
    return response.status, await response.json()


async def test_callback_is_placed_with_an_e164_number(env: Env) -> None:
    status, body = await _callback(env, number="5123 4567", staff="bob", page_ref="cart", order_ref="order-9")
    assert status == 202
    assert body == {"id": "cb-1"}
    assert env.callbacks.calls == [
        {"number": "+37251234567", "staff": "bob", "page_ref": "cart", "order_ref": "order-9", "preferred_time": None}
    ]


async def test_callback_defaults_to_the_team(env: Env) -> None:
    status, _ = await _callback(env, number="+358 41 2345678")
    assert status == 202
    assert env.callbacks.calls[0]["staff"] == "team"
    assert env.callbacks.calls[0]["number"] == "+358412345678"


@pytest.mark.parametrize(
    ("number", "words"),
    [
        ("+372 900 1234", "premium-rate"),
        ("+371 8112 3456", "shared-cost"),
        ("+372 800 12345", "free-phone"),
        ("+1 202 555 0143", "Estonia, Latvia and Finland"),
        ("+44 7400 123456", "Estonia, Latvia and Finland"),
        ("12", "complete phone number"),
        ("+372 5", "complete phone number"),
        ("call me", "only digits"),
        ("+372 5123 4567 ext 1", "only digits"),
        ("", "enter your phone number"),
    ],
)
async def test_callback_refuses_numbers_in_words_a_customer_understands(env: Env, number: str, words: str) -> None:
    status, body = await _callback(env, number=number)
    assert status == 400
    assert body["field"] == "number"
    assert words in body["error"]
    assert env.callbacks.calls == []


async def test_callback_number_is_required_and_a_string(env: Env) -> None:
    status, body = await _callback(env)
    assert (status, body["field"]) == (400, "number")
    status, body = await _callback(env, number=3725123456)
    assert (status, body["field"]) == (400, "number")


async def test_callback_with_a_preferred_time_in_opening_hours(env: Env) -> None:
    status, _ = await _callback(env, number="+37251234567", preferred_time="2026-03-03T14:30:00+02:00")
    assert status == 202
    assert env.callbacks.calls[0]["preferred_time"].isoformat() == "2026-03-03T14:30:00+02:00"
    # without an offset it is the shop's local time
    status, _ = await _callback(env, number="+37251234568", preferred_time="2026-03-03T09:00")
    assert status == 202
    assert env.callbacks.calls[1]["preferred_time"].isoformat() == "2026-03-03T09:00:00+02:00"


@pytest.mark.parametrize(
    ("when", "words"),
    [
        ("2026-03-03T18:00:00+02:00", "closed"),
        ("2026-03-07T10:00:00+02:00", "closed"),       # a Saturday
        ("2026-02-24T10:00:00+02:00", "passed"),       # in the past (and a holiday)
        ("2026-06-01T10:00:00+03:00", "14 days"),
        ("tomorrow at ten", "ISO-8601"),
    ],
)
async def test_callback_preferred_time_must_be_in_opening_hours(env: Env, when: str, words: str) -> None:
    status, body = await _callback(env, number="+37251234567", preferred_time=when)
    assert status == 400
    assert body["field"] == "preferred_time"
    assert words in body["error"]


async def test_callback_on_a_public_holiday_is_refused(env: Env) -> None:
    env.clock.now = env.clock.now.replace(month=2, day=20)
    status, body = await _callback(env, number="+37251234567", preferred_time="2026-02-24T10:00:00+02:00")
    assert status == 400
    assert "public holiday" in body["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "+37251234567", "staff": "zed"}, "staff"),
        ({"number": "+37251234567", "page_ref": "a b"}, "page_ref"),
        ({"number": "+37251234567", "order_ref": "o\nX-Order: 1"}, "order_ref"),
        ({"number": "+37251234567", "name": "Mari"}, "name"),
    ],
)
async def test_callback_other_fields(env: Env, body: dict[str, Any], field: str) -> None:
    response = await env.client.post("/api/public/callback", json=body, headers=WIDGET)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_callbacks_are_rate_limited_per_source(make_env: MakeEnv) -> None:
    env = await make_env(limits=PublicLimits(callbacks=Rate(per_second=1 / 60, burst=2)))
    assert (await _callback(env, number="+37251234567"))[0] == 202
    assert (await _callback(env, number="+37251234567"))[0] == 202
    status, body = await _callback(env, number="+37251234568")
    assert status == 429
    assert "wait a minute" in body["error"]
    assert len(env.callbacks.calls) == 2


async def test_callbacks_are_rate_limited_per_number(make_env: MakeEnv) -> None:
    env = await make_env(limits=PublicLimits(callbacks_per_number=Rate(per_second=1 / 3600, burst=1)))
    assert (await _callback(env, number="+37251234567"))[0] == 202
    response = await env.client.post("/api/public/callback", json={"number": "5123 4567"}, headers=WIDGET)
    assert response.status == 429
    assert response.headers["Retry-After"] == "3600"
    assert "about 60 minutes" in (await response.json())["error"]
    assert (await _callback(env, number="+37251234568"))[0] == 202


async def test_callback_not_offered_is_503(make_env: MakeEnv) -> None:
    env = await make_env(callbacks=False)
    status, body = await _callback(env, number="+37251234567")
    assert status == 503
    assert "call us" in body["error"]


async def test_static_widget_files_need_no_token(env: Env) -> None:
    response = await env.client.get("/static/tugi-widget.js")
    assert response.status == 200
    assert "javascript" in response.content_type
    outside = await env.client.get("/static/%2e%2e/app.py")
    assert outside.status in (401, 403, 404)
    assert "build_app" not in await outside.text()
