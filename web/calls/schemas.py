"""Query parameters of the call-history endpoints, checked and turned into store arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from config.schema import Settings
from history.records import Channel, Disposition
from web.errors import bad_request
from web.validation import REF, STAFF_ID, Query

FILTERS = ("since", "until", "disposition", "staff", "customer", "channel", "include_numbers")
PAGING = ("limit", "offset")
MAX_LIMIT = 1000
_REF_HINT = "use up to 128 letters, digits and . _ : @ / # + -"


@dataclass(frozen=True)
class CallFilters:
    since: datetime | None
    until: datetime | None
    disposition: str | None
    staff: str | None
    customer_id: str | None
    channel: str | None
    include_numbers: bool

    def store_kwargs(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "disposition": self.disposition,
            "staff": self.staff,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "include_numbers": self.include_numbers,
        }


def since_until(query: Query, settings: Settings) -> tuple[datetime | None, datetime | None]:
    since = query.moment("since", settings.shop.zone)
    until = query.moment("until", settings.shop.zone)
    if since is not None and until is not None and until <= since:
        raise bad_request("until", "must be later than since")
    return since, until


def call_filters(query: Query, settings: Settings) -> CallFilters:
    since, until = since_until(query, settings)
    return CallFilters(
        since=since,
        until=until,
        disposition=query.choice("disposition", [d.value for d in Disposition]),
        staff=query.text("staff", STAFF_ID, "is not a staff id (lower-case letters, digits, - and _)"),
        customer_id=query.text("customer", REF, _REF_HINT),
        channel=query.choice("channel", [c.value for c in Channel]),
        include_numbers=query.flag("include_numbers"),
    )


def list_query(request: web.Request, settings: Settings) -> tuple[CallFilters, int, int]:
    query = Query(request, (*FILTERS, *PAGING))
    filters = call_filters(query, settings)
    return filters, query.integer("limit", 100, 1, MAX_LIMIT), query.integer("offset", 0, 0, 10_000_000)


def csv_query(request: web.Request, settings: Settings) -> CallFilters:
    return call_filters(Query(request, FILTERS), settings)


def customer_id(value: str) -> str:
    if not REF.fullmatch(value):
        raise bad_request("id", f"is not a customer id; {_REF_HINT}")
    return value


def timeline_query(request: web.Request) -> tuple[bool, int]:
    query = Query(request, ("include_numbers", "limit"))
    return query.flag("include_numbers"), query.integer("limit", 200, 1, MAX_LIMIT)


@dataclass(frozen=True)
class StatsQuery:
    since: datetime
    until: datetime
    answered_within: float


def stats_query(request: web.Request, settings: Settings, now: datetime) -> StatsQuery:
    """Defaults: since the start of today in the shop's zone, until now."""
    query = Query(request, ("since", "until", "answered_within"))
    since, until = since_until(query, settings)
    until = until or now
    if since is None:
        since = datetime.combine(now.astimezone(settings.shop.zone).date(), time(0), tzinfo=settings.shop.zone)
        if since >= until:
            since = until - timedelta(days=1)
    if until <= since:
        raise bad_request("since", "must be earlier than until (which defaults to now)")
    within = query.integer("answered_within", 20, 1, 3600)
    return StatsQuery(since, until, float(within))
