"""`tugi route explain`: show, without any PBX, how a call at a given time would be routed."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from config.loader import load_settings
from config.schema import Settings
from routing.explain import explain
from routing.model import CallKind, CallRequest
from routing.planner import plan_call
from routing.presence import DeviceState, PersonPresence, PresenceSnapshot

EXIT_OK = 0
EXIT_USAGE = 2


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; write it as YYYY-MM-DDTHH:MM, e.g. 2026-12-24T18:30"
            " (shop local time), or add an offset such as +02:00"
        ) from None


def _kind(text: str) -> CallKind:
    try:
        return CallKind(text.lower())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a kind of call; use one of: {', '.join(k.value for k in CallKind)}"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `route explain` to the `tugi` command."""
    route = subparsers.add_parser("route", help="explain routing decisions").add_subparsers(
        dest="action", required=True
    )
    cmd = route.add_parser(
        "explain",
        help="show who a call would ring, in what order, and why",
        description="Plan one call as Tugi would and explain it. Everyone is assumed registered and"
        " free unless --busy or --offline says otherwise.",
    )
    cmd.add_argument("--config", required=True, help="the shop's TOML configuration")
    cmd.add_argument("--at", required=True, type=_moment, help="when the call arrives; without offset: shop local time")
    kinds = ",".join(k.value for k in CallKind)
    cmd.add_argument("--kind", required=True, type=_kind, metavar=f"{{{kinds}}}", help="kind of call")
    cmd.add_argument("--person", help="staff id the caller asked for")
    cmd.add_argument("--skill", action="extend", nargs="+", default=[], help="skills the call needs")
    cmd.add_argument("--language", help="language the caller speaks, e.g. et")
    cmd.add_argument("--last-handler", help="staff id who handled this customer's open order last")
    cmd.add_argument("--order", help="order reference")
    cmd.add_argument("--case", help="case reference")
    cmd.add_argument("--dialled", help="extension (internal) or E.164 number (outbound)")
    cmd.add_argument("--rotation", type=int, default=0, help="round-robin counter")
    cmd.add_argument("--busy", action="extend", nargs="+", default=[], metavar="ID", help="staff on a call")
    cmd.add_argument("--offline", action="extend", nargs="+", default=[], metavar="ID", help="staff not registered")
    cmd.set_defaults(func=cmd_route_explain)


def _presence(settings: Settings, busy: list[str], offline: list[str]) -> PresenceSnapshot:
    known = {s.id: s for s in settings.staff}
    unknown = [i for i in [*busy, *offline] if i not in known]
    if unknown:
        raise ValueError(
            f"no staff member with id {', '.join(map(repr, unknown))}; known: {', '.join(known) or 'none'}"
        )
    people = []
    for staff_id, person in known.items():
        if staff_id in offline:
            people.append(PersonPresence(staff_id, DeviceState.UNAVAILABLE, registered=False))
        elif staff_id in busy:
            people.append(PersonPresence(staff_id, DeviceState.INUSE, registered=True, active_calls=person.max_calls))
        else:
            people.append(PersonPresence(staff_id, DeviceState.NOT_INUSE, registered=True))
    return PresenceSnapshot(people)


def cmd_route_explain(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    at: datetime = args.at
    if at.tzinfo is None:
        at = at.replace(tzinfo=settings.shop.zone)
    request = CallRequest(
        kind=args.kind,
        requested_person=args.person,
        skills=tuple(args.skill),
        language=args.language,
        order_ref=args.order,
        case_ref=args.case,
        last_handler=args.last_handler,
        dialled=args.dialled,
    )
    try:
        presence = _presence(settings, args.busy, args.offline)
        plan = plan_call(request, at, presence, settings, rotation=args.rotation)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(explain(plan, request, at, settings))
    return EXIT_OK
