"""GDPR erasure across history and masking; staff setting their own status."""

from __future__ import annotations

import pytest
from conftest import BACK_OFFICE, COURIER_NUMBER, CUSTOMER_NUMBER, Env, seed_calls


async def test_erase_forgets_the_customer_in_history_and_masking(env: Env) -> None:
    seed_calls(env.history)
    created = await env.client.post(
        "/api/masking/sessions",
        json={"order_ref": "order-1", "customer_ref": "cust-1", "customer_number": CUSTOMER_NUMBER,
              "courier_ref": "courier-7", "courier_number": COURIER_NUMBER},
        headers=BACK_OFFICE,
    )
    session_id = (await created.json())["id"]

    response = await env.client.post("/api/gdpr/erase", json={"customer_id": "cust-1"}, headers=BACK_OFFICE)
    assert response.status == 200
    assert await response.json() == {"customer_id": "cust-1", "history_erased": True, "masking_sessions_erased": 1}

    timeline = await env.client.get("/api/customers/cust-1/timeline?include_numbers=1", headers=BACK_OFFICE)
    body = await timeline.json()
    assert body["erased"] is True
    assert CUSTOMER_NUMBER not in await timeline.text()
    assert all(item["erased"] for item in body["interactions"])
    # the masked-call session is closed and holds no number any more
    assert (await env.client.get(f"/api/masking/sessions/{session_id}", headers=BACK_OFFICE)).status == 404
    order = await env.client.get("/api/orders/order-1/masking-sessions?include_numbers=1", headers=BACK_OFFICE)
    assert CUSTOMER_NUMBER not in await order.text()
    assert (await order.json())["sessions"][0]["customer"]["number"] is None

    # erasing again is not an error
    again = await env.client.post("/api/gdpr/erase", json={"customer_id": "cust-1"}, headers=BACK_OFFICE)
    assert again.status == 200


async def test_erase_of_unknown_customer_is_404(env: Env) -> None:
    response = await env.client.post("/api/gdpr/erase", json={"customer_id": "nobody"}, headers=BACK_OFFICE)
    assert response.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "customer_id"), ({"customer_id": 5}, "customer_id"), ({"customer_id": "a b"}, "customer_id"),
     ({"customer_id": "c1", "reason": "x"}, "reason")],
)
async def test_erase_needs_a_customer_id(env: Env, body: dict, field: str) -> None:
    response = await env.client.post("/api/gdpr/erase", json=body, headers=BACK_OFFICE)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_staff_set_their_status(env: Env) -> None:
    await env.presence.on_event({"Event": "ContactStatus", "AOR": "alice", "ContactStatus": "Reachable"})
    await env.presence.on_event({"Event": "DeviceStateChange", "Device": "PJSIP/alice", "State": "NOT_INUSE"})
    response = await env.client.put("/api/staff/alice/status", json={"status": "walk_in"}, headers=BACK_OFFICE)
    assert response.status == 200
    assert await response.json() == {"id": "alice", "status": "walk_in", "state": "busy"}
    assert env.presence.current()["alice"].status.value == "walk_in"
    response = await env.client.put("/api/staff/alice/status", json={"status": "away"}, headers=BACK_OFFICE)
    assert (await response.json())["state"] == "offline"


async def test_staff_status_errors(env: Env) -> None:
    response = await env.client.put("/api/staff/alice/status", json={"status": "asleep"}, headers=BACK_OFFICE)
    assert response.status == 400
    body = await response.json()
    assert body["field"] == "status" and "available" in body["error"]
    response = await env.client.put("/api/staff/zed/status", json={"status": "dnd"}, headers=BACK_OFFICE)
    assert response.status == 404
    response = await env.client.put("/api/staff/alice/status", json={}, headers=BACK_OFFICE)
    assert (await response.json())["field"] == "status"
