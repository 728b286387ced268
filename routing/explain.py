"""A routing plan in words, for the integrator asking "why did this call ring there?"."""

from __future__ import annotations

from datetime import datetime

from config.schema import Hours, Settings
from routing.hours import open_state, to_local
from routing.model import CallKind, CallRequest, Fallback, Plan, Target

_CUSTOMER_KINDS = (CallKind.WEB, CallKind.CALLBACK, CallKind.INBOUND)


def _when(moment: datetime, settings: Settings) -> str:
    local = to_local(moment, settings.shop.zone)
    offset = local.strftime("%z")
    return f"{local:%A %Y-%m-%d %H:%M} {settings.shop.timezone} (UTC{offset[:3]}:{offset[3:]}, {local.tzname()})"


def _masked_number(number: str) -> str:
    # A real phone number is personal data; the last digits are enough to recognise it.
    return number[:4] + "•" * max(0, len(number) - 7) + number[-3:] if len(number) > 7 else "•" * len(number)


def _target(target: Target, settings: Settings) -> str:
    if target.kind in ("staff", "showroom"):
        person = settings.staff_by_id(target.ref)
        return f"{target.ref} ({person.name})" if person else target.ref
    if target.kind == "outsourced":
        return f"{settings.outsourced.name} at {target.ref}"
    return f"outside number {_masked_number(target.ref)}"


def _request_line(request: CallRequest) -> str:
    fields = [
        ("requested person", request.requested_person),
        ("skills", ", ".join(request.skills)),
        ("language", request.language),
        ("last handler", request.last_handler),
        ("order", request.order_ref),
        ("case", request.case_ref),
        ("page", request.page_ref),
        ("customer", request.customer_id),
        ("dialled", request.dialled if request.kind is not CallKind.OUTBOUND else None),
    ]
    shown = [f"{name} {value}" for name, value in fields if value]
    return "; ".join(shown) or "nothing beyond the kind of call"


def _hours_line(name: str, hours: Hours, at: datetime, settings: Settings) -> str:
    state = open_state(hours, settings.shop.zone, at)
    return f"  {name}: {'open' if state.is_open else 'closed'} — {state.reason}"


def _fallback_line(fallback: Fallback, settings: Settings) -> list[str]:
    if fallback.kind == "outsourced" and fallback.target is not None:
        head = f"Fallback: {_target(fallback.target, settings)}, ringing {fallback.ring_seconds} s"
    elif fallback.kind == "closed_message":
        head = f'Fallback: closed message "{fallback.announcement}"'
    else:
        head = "Fallback: none"
    lines = [head, f"  because {fallback.reason}"]
    if fallback.next_opening is not None:
        lines.append(f"  the shop answers again {_when(fallback.next_opening, settings)}")
    return lines


def explain(plan: Plan, request: CallRequest, at: datetime, settings: Settings) -> str:
    """Several lines: when, which hours rule applied, each step, who was skipped, the fallback."""
    lines = [
        f"{request.kind.value.capitalize()} call at {_when(at, settings)}",
        f"Request: {_request_line(request)}",
    ]
    if request.kind in _CUSTOMER_KINDS:
        centre = settings.outsourced
        lines.append("Hours:")
        lines.append(_hours_line("shop", settings.shop.hours, at, settings))
        if settings.showroom_staff:
            lines.append(_hours_line(f"showroom ({settings.showroom.name})", settings.showroom_hours, at, settings))
        if centre.enabled:
            lines.append(_hours_line(f"outsourced ({centre.name})", centre.hours, at, settings))
        else:
            lines.append(f"  outsourced ({centre.name}): disabled")
    if plan.reasons:
        lines.append("Decisions:")
        lines.extend(f"  - {reason}" for reason in plan.reasons)
    lines.append("Steps:" if plan.steps else "Steps: none — nobody is rung before the fallback")
    for number, step in enumerate(plan.steps, start=1):
        who = ", ".join(_target(t, settings) for t in step.targets)
        verb = "ring together" if len(step.targets) > 1 else "rings"
        lines.append(f"  {number}. [{step.label}] {who} {verb} for {step.ring_seconds} s — {step.reason}")
    if plan.skipped:
        lines.append("Skipped:")
        for staff_id, why in plan.skipped:
            person = settings.staff_by_id(staff_id)
            name = f" ({person.name})" if person else ""
            lines.append(f"  - {staff_id}{name}: {why}")
    lines.extend(_fallback_line(plan.fallback, settings))
    return "\n".join(lines)
