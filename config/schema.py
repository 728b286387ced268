"""The shape of a shop's configuration, and the checks each value must pass.

Every other package reads settings through these frozen types; none of them parses TOML.
Phone numbers are normalised to E.164 here, once, so nothing downstream re-parses them.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import time
from ipaddress import ip_address
from types import MappingProxyType
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from config.secrets import Secret, resolve_secret

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Names that end up inside Asterisk configuration or dial strings: keep them to a safe alphabet
# so no value from the config file can smuggle in `&`, `,`, `;`, a newline or a section header.
_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,38}$")
_EXTENSION = re.compile(r"^[0-9]{2,8}$")
_SIP_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _check_safe_name(value: str) -> str:
    if not _SAFE_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use 1-39 lower-case letters, digits, '-' or '_',"
            " starting with a letter"
        )
    return value


SafeName = Annotated[str, AfterValidator(_check_safe_name)]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {value!r} does not exist; use an IANA name such as 'Europe/Tallinn'"
        ) from None
    return value


def _check_region(value: str) -> str:
    value = value.upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not a phone region; use an ISO 3166 code such as 'EE'")
    return value


Region = Annotated[str, AfterValidator(_check_region)]


def parse_e164(value: str, default_region: str | None = None) -> str:
    """Parse a phone number written by a person and return it in E.164, or raise ValueError."""
    if not isinstance(value, str):
        raise ValueError("a phone number must be a string, e.g. \"+3726001001\"")
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164 = Annotated[str, AfterValidator(lambda v: parse_e164(v))]


class TimeRange(_Frozen):
    """An interval of one day, start inclusive, end exclusive, in the shop's time zone."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"closing time {self.end:%H:%M} is not after opening time {self.start:%H:%M}")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_ranges(value: object) -> object:
    """Accept "09:00-17:00", "09:00-12:00, 13:00-17:00", "closed" or a list of ranges."""
    if isinstance(value, str):
        value = [] if value.strip().lower() == "closed" else [p for p in value.split(",") if p.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError('expected "HH:MM-HH:MM", several separated by commas, or "closed"')
    ranges = []
    for part in value:
        if isinstance(part, TimeRange):
            ranges.append(part)
            continue
        match = _RANGE.match(str(part))
        if not match:
            raise ValueError(f'{part!r} is not a time range; expected "HH:MM-HH:MM", e.g. "09:00-17:00"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2 == 0:
            end = time(23, 59, 59, 999999)
        elif h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"{part!r} has an hour or minute out of range")
        else:
            end = time(h2, m2)
        ranges.append(TimeRange(start=time(h1, m1), end=end))
    ranges.sort(key=lambda r: r.start)
    for earlier, later in itertools.pairwise(ranges):
        if later.start < earlier.end:
            raise ValueError(f"time ranges {earlier} and {later} overlap")
    return tuple(ranges)


DayHours = Annotated[
    tuple[TimeRange, ...],
    BeforeValidator(_parse_ranges),
    PlainSerializer(lambda v: ", ".join(str(r) for r in v) or "closed"),
]


class HoursException(_Frozen):
    """A dated exception to the weekly hours: closed, or open at other times."""

    date: str = Field(description="ISO date, e.g. 2026-12-31")
    hours: DayHours = ()
    note: str = ""

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        from datetime import date

        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date; expected YYYY-MM-DD") from None
        return value


class Hours(_Frozen):
    """When someone answers: per weekday, minus public holidays, with dated exceptions."""

    monday: DayHours = ()
    tuesday: DayHours = ()
    wednesday: DayHours = ()
    thursday: DayHours = ()
    friday: DayHours = ()
    saturday: DayHours = ()
    sunday: DayHours = ()
    public_holidays: str | None = Field(
        default="EE", description="country whose public holidays close the shop; empty for none"
    )
    exceptions: tuple[HoursException, ...] = ()

    @field_validator("public_holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.upper()
        if value not in holidays.list_supported_countries():
            raise ValueError(f"public holidays are not known for country {value!r}")
        return value

    @field_validator("exceptions")
    @classmethod
    def _unique_dates(cls, value: tuple[HoursException, ...]) -> tuple[HoursException, ...]:
        seen: set[str] = set()
        for exc in value:
            if exc.date in seen:
                raise ValueError(f"date {exc.date} has two exceptions")
            seen.add(exc.date)
        return value

    def for_weekday(self, weekday: int) -> tuple[TimeRange, ...]:
        return getattr(self, WEEKDAYS[weekday])


_STAFF_INDEXES: OrderedDict[int, tuple[tuple[Staff, ...], Mapping[str, Staff]]] = OrderedDict()


def _staff_index(staff: tuple[Staff, ...]) -> Mapping[str, Staff]:
    # Kept outside the model: pydantic compares models by their __dict__, so a cache inside one
    # would make two equal settings unequal. The tuple is kept with its index, so a recycled id()
    # never matches a different list.
    cached = _STAFF_INDEXES.get(id(staff))
    if cached is None or cached[0] is not staff:
        cached = (staff, MappingProxyType({p.id: p for p in staff}))
        _STAFF_INDEXES[id(staff)] = cached
        while len(_STAFF_INDEXES) > 16:
            _STAFF_INDEXES.popitem(last=False)
    return cached[1]


def _default_shop_hours() -> Hours:
    workday = _parse_ranges("09:00-17:00")
    return Hours(monday=workday, tuesday=workday, wednesday=workday, thursday=workday, friday=workday)


def _round_the_clock() -> Hours:
    day = _parse_ranges("00:00-24:00")
    return Hours(**{d: day for d in WEEKDAYS}, public_holidays=None)


class Shop(_Frozen):
    id: SafeName = "shop"
    name: str = Field(min_length=1, max_length=80)
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "Europe/Tallinn"
    default_region: Region = "EE"
    allowed_regions: tuple[Region, ...] = ("EE",)
    hours: Hours = Field(default_factory=_default_shop_hours)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Staff(_Frozen):
    id: SafeName
    name: str = Field(min_length=1, max_length=80)
    extension: str
    secret: Secret
    photo_url: str = ""
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    showroom: bool = False
    max_calls: int = Field(default=1, ge=1, le=10)

    @field_validator("extension")
    @classmethod
    def _extension_digits(cls, value: str) -> str:
        if not _EXTENSION.match(value):
            raise ValueError(f"extension {value!r} must be 2 to 8 digits")
        return value

    @field_validator("skills", "languages")
    @classmethod
    def _lower_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_safe_name(v.lower()) for v in value)

    @property
    def endpoint(self) -> str:
        """The PJSIP endpoint (and SIP user name) of this person's phone."""
        return self.id


class Showroom(_Frozen):
    name: str = "Showroom"
    hours: Hours | None = Field(default=None, description="defaults to the shop's hours")
    ring_seconds: int = Field(default=20, ge=5, le=120)


class Outsourced(_Frozen):
    """The outsourced call centre: a SIP trunk we send calls to, with hours of its own."""

    enabled: bool = True
    name: str = "Call centre"
    host: str = "127.0.0.3"
    port: int = Field(default=5080, ge=1, le=65535)
    user: str = Field(default="tugi", description="user part of the request URI we dial")
    hours: Hours = Field(default_factory=_round_the_clock)
    ring_seconds: int = Field(default=60, ge=5, le=600)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _SIP_HOST.match(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9+_.-]{1,40}$", value):
            raise ValueError(f"{value!r} may only contain letters, digits, '+', '_', '.', '-'")
        return value


class Carrier(_Frozen):
    """The SIP trunk to the phone network: customers and couriers call in and out through it."""

    host: str = "127.0.0.2"
    port: int = Field(default=5070, ge=1, le=65535)
    match: tuple[str, ...] = Field(
        default=(), description="source addresses of the carrier's calls; defaults to host"
    )
    main_number: E164 | None = Field(default=None, description="the shop's public number")
    username: str = ""
    secret: Secret | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _SIP_HOST.match(value):
            raise ValueError(f"{value!r} is not a host name or IP address")
        return value

    @field_validator("match")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            try:
                ip_address(address.split("/")[0])
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address or network") from None
        return value


class Masking(_Frozen):
    pool: tuple[E164, ...] = ()
    session_ttl_hours: float = Field(default=72, gt=0, le=24 * 90)
    retention_days: int = Field(default=30, ge=0, le=3650)
    single_number_mode: bool = True
    pin_digits: int = Field(default=4, ge=3, le=8)
    max_failed_attempts: int = Field(default=5, ge=1, le=100)
    encryption_key: Secret | None = None

    @field_validator("pool")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            dupes = sorted({n for n in value if value.count(n) > 1})
            raise ValueError(f"proxy number(s) listed twice: {', '.join(dupes)}")
        return value


    @model_validator(mode="after")
    def _key_for_pool(self) -> Masking:
        if self.pool and self.encryption_key is None:
            raise ValueError(
                "encryption_key is required when the pool lists proxy numbers: real numbers are stored encrypted"
            )
        return self


class Routing(_Frozen):
    strategy: Literal["ring_all", "round_robin", "longest_idle"] = "ring_all"
    person_ring_seconds: int = Field(default=15, ge=5, le=120)
    team_ring_seconds: int = Field(default=20, ge=5, le=300)
    prefer_last_handler: bool = True


class Asterisk(_Frozen):
    """How Tugi and the rendered Asterisk configuration reach each other."""

    ami_host: str = "127.0.0.1"
    ami_permit: tuple[str, ...] = Field(
        default=("127.0.0.1/32",), description="networks the AMI user may log in from"
    )
    web_guest_secret: Secret = Field(
        default="tugi-web-guest",
        description="SIP password of the browser guest endpoint; public, since that endpoint"
        " reaches only the web-call context and every call there needs a signed call token",
    )
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: SafeName = "tugi"
    ami_secret: Secret
    sip_bind: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    http_bind: str = "127.0.0.1"
    http_port: int = Field(default=8088, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65000)
    rtp_end: int = Field(default=10999, ge=1024, le=65535)
    cel_csv: str | None = Field(
        default=None,
        description="path of cel_custom's Master.csv as Tugi sees it; read after an outage to rebuild missed calls",
    )
    ice_host_candidates: dict[str, str] = Field(
        default_factory=dict, description="local address => address to advertise (rtp.conf)"
    )

    @model_validator(mode="after")
    def _rtp_range(self) -> Asterisk:
        if self.rtp_end <= self.rtp_start:
            raise ValueError("rtp_end must be above rtp_start")
        return self


class Agi(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)


class Database(_Frozen):
    url: str = "sqlite:///tugi.sqlite3"
    encryption_key: Secret | None = Field(
        default=None,
        description="key for the phone numbers in the history; a key file in the data folder if unset",
    )


class Http(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    allowed_origins: tuple[str, ...] = ()
    api_tokens: dict[str, Secret] = Field(
        default_factory=dict, description="back-office API tokens: name => token"
    )
    token_secret: Secret | None = Field(
        default=None, description="key that signs the widget's short-lived call tokens"
    )


class Settings(_Frozen):
    """A whole shop: the one object the composition root builds and hands to every part."""

    shop: Shop
    staff: tuple[Staff, ...] = ()
    showroom: Showroom = Field(default_factory=Showroom)
    outsourced: Outsourced = Field(default_factory=Outsourced)
    carrier: Carrier = Field(default_factory=Carrier)
    routing: Routing = Field(default_factory=Routing)
    masking: Masking = Field(default_factory=Masking)
    asterisk: Asterisk
    agi: Agi = Field(default_factory=Agi)
    database: Database = Field(default_factory=Database)
    http: Http = Field(default_factory=Http)

    @field_validator("staff")
    @classmethod
    def _unique_staff(cls, value: tuple[Staff, ...]) -> tuple[Staff, ...]:
        for attr in ("id", "extension"):
            seen: set[str] = set()
            for person in value:
                key = getattr(person, attr)
                if key in seen:
                    raise ValueError(f"staff {attr} {key!r} is used twice")
                seen.add(key)
        return value

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        ports = [self.asterisk.ami_port, self.asterisk.http_port, self.agi.port, self.http.port]
        if len(set(ports)) != len(ports):
            raise ValueError("the AMI, Asterisk HTTP, FastAGI and Tugi HTTP ports must all differ")
        return self

    def staff_by_id(self, staff_id: str) -> Staff | None:
        return self.staff_index.get(staff_id)

    @property
    def staff_index(self) -> Mapping[str, Staff]:
        """Staff by id: looked up for every dial target of every call, so built once per staff list."""
        return _staff_index(self.staff)

    @property
    def showroom_staff(self) -> tuple[Staff, ...]:
        return tuple(p for p in self.staff if p.showroom)

    @property
    def showroom_hours(self) -> Hours:
        return self.showroom.hours or self.shop.hours


__all__ = [
    "WEEKDAYS",
    "Agi",
    "Asterisk",
    "Carrier",
    "Database",
    "Hours",
    "HoursException",
    "Http",
    "Masking",
    "Outsourced",
    "Routing",
    "Secret",
    "Settings",
    "Shop",
    "Showroom",
    "Staff",
    "TimeRange",
    "parse_e164",
    "resolve_secret",
]
