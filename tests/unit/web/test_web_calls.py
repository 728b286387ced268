"""The back office reads the call history: filters, one call, CSV, a customer's timeline, statistics."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import BACK_OFFICE, CUSTOMER2_NUMBER, CUSTOMER_NUMBER, Env, seed_calls


@pytest.fixture
def ids(env: Env) -> dict[str, int]:
    return seed_calls(env.history)


async def _calls(env: Env, query: str = "") -> list[dict]:
    response = await env.client.get("/api/calls" + query, headers=BACK_OFFICE)
    assert response.status == 200, await response.text()
    return (await response.json())["calls"]


async def test_lists_every_call_newest_first(env: Env, ids: dict[str, int]) -> None:
    calls = await _calls(env)
    assert [c["id"] for c in calls] == [
        ids["abandoned"], ids["phone_bob"], ids["phone_missed"], ids["web_alice"], ids["sunday"]
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?since=2026-03-02", ["abandoned", "phone_bob", "phone_missed", "web_alice"]),
        ("?since=2026-03-02T10:00:00%2B02:00&until=2026-03-02T15:00", ["phone_bob", "phone_missed"]),
        ("?since=2026-03-02T08:00:00Z", ["abandoned", "phone_bob", "phone_missed"]),
        # an unencoded '+' arrives as a space: still read as the offset it was meant to be
        ("?until=2026-03-02T09:31:00+02:00", ["web_alice", "sunday"]),
        ("?disposition=answered", ["phone_bob", "web_alice", "sunday"]),
        ("?staff=bob", ["phone_bob", "phone_missed"]),
        ("?customer=cust-1", ["phone_bob", "web_alice"]),
        ("?channel=web", ["abandoned", "web_alice"]),
        ("?channel=phone&disposition=answered&since=2026-03-02", ["phone_bob"]),
        ("?limit=2", ["abandoned", "phone_bob"]),
        ("?limit=2&offset=2", ["phone_missed", "web_alice"]),
    ],
)
async def test_filters(env: Env, ids: dict[str, int], query: str, expected: list[str]) -> None:
    assert [c["id"] for c in await _calls(env, query)] == [ids[name] for name in expected]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?since=yesterday", "since"),
        ("?until=2026-13-01", "until"),
        ("?since=2026-03-02&until=2026-03-01", "until"),
        ("?disposition=lost", "disposition"),
        ("?channel=fax", "channel"),
        ("?staff=Alice%20Aas", "staff"),
        ("?customer=a%0d%0ab", "customer"),
        ("?limit=0", "limit"),
        ("?limit=5000", "limit"),
        ("?limit=ten", "limit"),
        ("?offset=-1", "offset"),
        ("?include_numbers=maybe", "include_numbers"),
        ("?sinse=2026-03-01", "sinse"),
        ("?limit=1&limit=2", "limit"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(env: Env, query: str, parameter: str) -> None:
    response = await env.client.get("/api/calls" + query, headers=BACK_OFFICE)
    assert response.status == 400
    body = await response.json()
    assert body["field"] == parameter
    assert body["error"].startswith(parameter)


async def test_numbers_are_masked_unless_asked_for(env: Env, ids: dict[str, int]) -> None:
    masked = await env.client.get("/api/calls", headers=BACK_OFFICE)
    text = await masked.text()
    assert CUSTOMER_NUMBER not in text and CUSTOMER2_NUMBER not in text
    assert "+372" in text  # masked, but recognisable
    calls = await _calls(env, "?include_numbers=1&customer=cust-1")
    assert {c["caller_number"] for c in calls} == {CUSTOMER_NUMBER}


async def test_one_call_with_its_legs(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get(f"/api/calls/{ids['web_alice']}", headers=BACK_OFFICE)
    assert response.status == 200
    call = await response.json()
    assert call["answered_by"] == "alice"
    assert {leg["party_ref"] for leg in call["legs"]} == {"cust-1", "alice"}
    assert CUSTOMER_NUMBER not in await response.text()
    response = await env.client.get(f"/api/calls/{ids['web_alice']}?include_numbers=1", headers=BACK_OFFICE)
    assert (await response.json())["caller_number"] == CUSTOMER_NUMBER


async def test_unknown_call_is_404(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get("/api/calls/999999", headers=BACK_OFFICE)
    assert response.status == 404
    assert "999999" in (await response.json())["error"]
    assert (await env.client.get("/api/calls/abc", headers=BACK_OFFICE)).status == 404


async def test_csv_export(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get("/api/calls.csv?since=2026-03-02&channel=phone", headers=BACK_OFFICE)
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [int(r["id"]) for r in rows] == [ids["phone_bob"], ids["phone_missed"]]
    assert all(CUSTOMER_NUMBER not in r["caller_number"] for r in rows)
    response = await env.client.get("/api/calls.csv?customer=cust-1&include_numbers=1", headers=BACK_OFFICE)
    assert CUSTOMER_NUMBER in await response.text()


async def test_csv_bad_parameter_is_json_400(env: Env) -> None:
    response = await env.client.get("/api/calls.csv?limit=10", headers=BACK_OFFICE)
    assert response.status == 400
    assert (await response.json())["field"] == "limit"


async def test_customer_timeline(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get("/api/customers/cust-1/timeline", headers=BACK_OFFICE)
    assert response.status == 200
    body = await response.json()
    assert body["customer_id"] == "cust-1" and body["erased"] is False
    assert [i["id"] for i in body["interactions"]] == [ids["phone_bob"], ids["web_alice"]]
    assert CUSTOMER_NUMBER not in await response.text()


async def test_unknown_customer_timeline_is_404(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get("/api/customers/nobody/timeline", headers=BACK_OFFICE)
    assert response.status == 404


async def test_stats(env: Env, ids: dict[str, int]) -> None:
    response = await env.client.get(
        "/api/stats?since=2026-03-02&until=2026-03-03", headers=BACK_OFFICE
    )
    assert response.status == 200
    stats = await response.json()
    assert stats["offered"] == 4
    assert stats["answered"] == 2
    assert stats["abandoned"] == 1
    assert len(stats["by_hour"]) == 24
    assert stats["by_hour"][11]["offered"] == 1


async def test_stats_defaults_to_today_so_far(env: Env, ids: dict[str, int]) -> None:
    # the fake clock says Monday 10:00: only the 09:30 call has started
    stats = await (await env.client.get("/api/stats", headers=BACK_OFFICE)).json()
    assert stats["offered"] == 1


async def test_stats_bad_range_is_400(env: Env) -> None:
    response = await env.client.get("/api/stats?since=2026-03-03&until=2026-03-02", headers=BACK_OFFICE)
    assert response.status == 400
    assert (await response.json())["field"] == "until"
