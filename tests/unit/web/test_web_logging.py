"""No personal data in any log line: method, route template and status, nothing else."""

from __future__ import annotations

import logging

import pytest
from conftest import BACK_OFFICE, COURIER, COURIER_NUMBER, CUSTOMER_NUMBER, WIDGET, Env, seed_calls

from web.keys import SERVICES


async def test_log_lines_carry_no_personal_data(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    seed_calls(env.history)
    caplog.set_level(logging.DEBUG)
    c = env.client
    created = await c.post(
        "/api/masking/sessions",
        json={"order_ref": "order-77", "customer_ref": "cust-1", "customer_number": CUSTOMER_NUMBER,
              "courier_ref": "courier-7", "courier_number": COURIER_NUMBER},
        headers=BACK_OFFICE,
    )
    session_id = (await created.json())["id"]
    await c.get(f"/api/masking/sessions/{session_id}?include_numbers=1", headers=BACK_OFFICE)
    await c.get(f"/api/courier/sessions/{session_id}", headers=COURIER)
    await c.get("/api/calls?customer=cust-1&include_numbers=1", headers=BACK_OFFICE)
    await c.get("/api/customers/cust-1/timeline?include_numbers=1", headers=BACK_OFFICE)
    await c.post("/api/public/callback", json={"number": "+37251000009"}, headers=WIDGET)
    await c.post("/api/public/callback", json={"number": "+372 900 1234"}, headers=WIDGET)
    await c.post("/api/masking/sessions", json={"order_ref": "x\r\n+37251000008"}, headers=BACK_OFFICE)
    await c.post("/api/gdpr/erase", json={"customer_id": "cust-1"}, headers=BACK_OFFICE)
    await c.get("/api/nowhere/+37251000007")

    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (CUSTOMER_NUMBER, COURIER_NUMBER, "51000001", "+37251000009", "9001234", "+37251000008",
                   "+37251000007", "cust-1", "order-77", session_id, "include_numbers", "127.0.0.1"):
        assert secret not in text, f"{secret!r} was logged"
    access = [r.getMessage() for r in caplog.records if r.name == "tugi.web.access"]
    assert "POST /api/masking/sessions 201" in access[0]
    assert any(line.startswith("GET /api/courier/sessions/{id} 200") for line in access)
    assert any(line.startswith("GET (unknown path) 401") for line in access)


async def test_unexpected_errors_are_logged_without_their_message(
    env: Env, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> list:
        raise RuntimeError(f"database said no for {CUSTOMER_NUMBER}")

    monkeypatch.setattr(env.client.app[SERVICES].history, "list_calls", explode)
    caplog.set_level(logging.DEBUG)
    response = await env.client.get("/api/calls", headers=BACK_OFFICE)
    assert response.status == 500
    assert CUSTOMER_NUMBER not in await response.text()
    assert "internal error" in (await response.json())["error"]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in text and "/api/calls" in text
    assert CUSTOMER_NUMBER not in text
