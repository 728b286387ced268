"""The FastAGI `route` script: the dialplan asks "what now?", Tugi answers one step at a time.

Each call gets a plan on its first question (routing for shop calls, masking for proxy-number
calls, a token check first for browser calls); every later question takes the next step. What
was decided is kept as a `CallNote` for the call's record. Anything unexpected — a variable
missing or malformed, a store that fails — ends in a safe answer, never in a dead call: the
dialplan's own failsafe takes over when this handler fails.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from config.schema import Settings
from masking.model import Connect, NeedPin
from pbx_bridge.agi_server import AgiCall
from pbx_bridge.call_tokens import CallTokens, TokenError
from pbx_bridge.dialstrings import UnsafeDialTarget, carrier_channel, dial_string, safe_reference
from routing.model import CallKind, CallRequest, Plan, Target
from routing.planner import plan_call
from routing.presence import PresenceSnapshot

log = logging.getLogger(__name__)

# Asterisk reads each AGI command into a 2,048-byte buffer (res_agi.c, AGI_BUF_LEN) and cuts
# off the rest, so a ring-all to some 150 phones would lose the last ones without a word.
MAX_DIAL_STRING = 1900

REFUSED_SOUND = "ss-noservice"        # "the number you have dialled is not in service"
CLOSED_SOUND = "vm-nobodyavail"       # "nobody is available to take your call"
PIN_PROMPT = "vm-enter-num-to-call"
NOTE_TTL = 6 * 3600.0
_DIGITS = re.compile(r"^[0-9]{1,16}$")


@dataclass(frozen=True)
class Step:
    action: str                        # dial | read_pin | announce | hangup
    label: str = ""
    dial: str = ""
    ring: int = 0
    caller_id: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    announce: str = ""
    cause: int = 16


@dataclass
class CallNote:
    """What Tugi decided for one call; the call tracker merges it into the record."""

    kind: str
    page_ref: str | None = None
    order_ref: str | None = None
    case_ref: str | None = None
    customer_id: str | None = None
    requested_person: str | None = None
    masking_session: str | None = None
    caller_role: str | None = None
    caller_ref: str | None = None
    callee_role: str | None = None
    callee_ref: str | None = None
    refused: str | None = None         # why Tugi refused the call (a code, never a number)
    route: list[str] = field(default_factory=list)
    targets_tried: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)


@dataclass
class CallbackOrder:
    """A call-back to place: staff leg first, then the customer through the carrier."""

    id: str
    customer_number: str
    staff_id: str
    page_ref: str | None = None
    order_ref: str | None = None


def target_refs(dial: str) -> list[str]:
    """Who a dial string rings, by reference: a staff id, "outsourced" or "customer".

    Records keep these, never the dial string itself, which carries a real number for calls
    through the carrier.
    """
    refs = []
    for part in dial.split("&"):
        if part.endswith("@carrier"):
            refs.append("customer")
        elif part.endswith("@outsourced"):
            refs.append("outsourced")
        else:
            refs.append(part.removeprefix("PJSIP/"))
    return refs


class RouteHandler:
    def __init__(
        self,
        settings: Settings,
        *,
        presence: Callable[[], PresenceSnapshot],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tokens: CallTokens | None = None,
        masking: object | None = None,
        last_handler: Callable[[str], Awaitable[str | None]] | None = None,
        callbacks: dict[str, CallbackOrder] | None = None,
    ) -> None:
        self.settings = settings
        self.presence = presence
        self.clock = clock
        self.tokens = tokens
        self.masking = masking
        self.last_handler = last_handler
        self.callbacks = callbacks if callbacks is not None else {}
        self.notes: dict[str, CallNote] = {}
        self._rotation = 0
        self.decision_seconds: list[float] = []

    async def __call__(self, call: AgiCall) -> None:
        started = time.perf_counter()
        args = call.args
        kind = args[0] if args else ""
        try:
            step_index = int(args[1]) if len(args) > 1 else 0
        except ValueError:
            step_index = 0
        uniqueid = call.uniqueid
        note = self.notes.get(uniqueid)
        if note is None or step_index == 0:
            note = await self._plan(kind, call)
            self.notes[uniqueid] = note
        elif note.kind == CallKind.MASKED and note.steps and note.steps[-1].action == "read_pin":
            note.steps.extend(await self._masked_with_pin(call, note))
        step = note.steps[step_index] if step_index < len(note.steps) else Step("hangup", "done", cause=16)
        if step.action == "dial":
            note.route.append(step.label)
            note.targets_tried.extend(target_refs(step.dial))
        await self._answer(call, step)
        self.decision_seconds.append(time.perf_counter() - started)
        self._forget_old()

    # -- planning
    async def _plan(self, kind: str, call: AgiCall) -> CallNote:
        try:
            call_kind = CallKind(kind)
        except ValueError:
            log.warning("route: unexpected call kind %r; refusing safely", kind[:20])
            return CallNote(kind="unknown", refused="bad_kind", steps=[Step("hangup", "refused", cause=21)])
        if call_kind is CallKind.MASKED:
            return await self._plan_masked(call)
        dialled = _dialled(call)
        request = CallRequest(kind=call_kind, dialled=dialled or None)
        note = CallNote(kind=call_kind.value)
        if call_kind is CallKind.WEB:
            grant = self._check_token(await call.get("TUGI_TOKEN"))
            if grant is None:
                note.refused = "bad_token"
                note.steps = [Step("hangup", "refused: no valid call token", cause=21)]
                return note
            person = grant.target if grant.target != "team" else None
            note.page_ref, note.requested_person = grant.page_ref or None, person
            request = CallRequest(kind=call_kind, requested_person=person, page_ref=grant.page_ref or None)
        elif call_kind is CallKind.CALLBACK:
            order = self.callbacks.get(dialled)
            if order is None:
                note.refused = "unknown_callback"
                note.steps = [Step("hangup", "refused: unknown call-back", cause=21)]
                return note
            note.page_ref, note.order_ref = order.page_ref, order.order_ref
            note.steps = [self._customer_step(order.customer_number, "customer")]
            return note
        elif call_kind is CallKind.INBOUND and self.last_handler is not None:
            caller = call.env.get("agi_callerid", "")
            try:
                handler = await self.last_handler(caller) if caller.startswith("+") else None
            except Exception:
                log.warning("route: history lookup failed; routing without it", exc_info=True)
                handler = None
            request = CallRequest(kind=call_kind, dialled=request.dialled, last_handler=handler)
        if call_kind is CallKind.OUTBOUND:
            note.steps = [self._customer_step(dialled, "outside number")] if dialled else []
            return note
        self._rotation += 1
        plan = plan_call(request, self.clock(), self.presence(), self.settings, rotation=self._rotation)
        note.steps = self._steps_for(plan, note)
        return note

    def _check_token(self, token: str):
        if self.tokens is None:
            return None
        try:
            return self.tokens.verify(token, self.clock())
        except TokenError as exc:
            log.info("route: web call refused: %s", exc)
            return None

    def _steps_for(self, plan: Plan, note: CallNote) -> list[Step]:
        steps: list[Step] = []
        headers = self._reference_headers(note)
        for ring in plan.steps:
            try:
                parts = _fitting_dial_strings(ring.targets, self.settings)
            except UnsafeDialTarget as exc:
                log.error("route: skipped a step: %s", exc)
                continue
            if len(parts) > 1:
                log.warning("route: %s rings %d phones, more than one Asterisk command holds; "
                            "ringing them in %d steps", ring.label, len(ring.targets), len(parts))
            for index, dial in enumerate(parts, start=1):
                label = ring.label if len(parts) == 1 else f"{ring.label} ({index}/{len(parts)})"
                steps.append(Step("dial", label, dial, ring.ring_seconds))
        fallback = plan.fallback
        if fallback.kind == "outsourced" and fallback.target is not None:
            steps.append(Step(
                "dial", "outsourced", dial_string((fallback.target,), self.settings), fallback.ring_seconds or 60,
                headers=headers,
            ))
        elif fallback.kind == "closed_message":
            steps.append(Step("announce", "closed message", announce=CLOSED_SOUND))
        return steps

    def _reference_headers(self, note: CallNote) -> tuple[tuple[str, str], ...]:
        return tuple(
            (name, value)
            for name, value in (
                ("TUGI_X_CASE", safe_reference(note.case_ref)),
                ("TUGI_X_ORDER", safe_reference(note.order_ref)),
                ("TUGI_X_PAGE", safe_reference(note.page_ref)),
            )
        )

    def _customer_step(self, number: str, label: str) -> Step:
        main = self.settings.carrier.main_number or ""
        try:
            return Step("dial", label, carrier_channel(number), 60, caller_id=main)
        except UnsafeDialTarget:
            return Step("hangup", "refused: not a dialable number", cause=28)

    # -- masked calls
    async def _plan_masked(self, call: AgiCall) -> CallNote:
        note = CallNote(kind=CallKind.MASKED.value)
        if self.masking is None:
            note.refused = "masking_disabled"
            note.steps = [Step("announce", "refused", announce=REFUSED_SOUND)]
            return note
        dialled = _dialled(call)
        caller = call.env.get("agi_callerid", "")
        resolution = await asyncio.to_thread(self.masking.resolve, caller, dialled, None)
        note.steps = self._masked_steps(resolution, note)
        return note

    async def _masked_with_pin(self, call: AgiCall, note: CallNote) -> list[Step]:
        pin = await call.get("TUGI_PIN")
        dialled = _dialled(call)
        caller = call.env.get("agi_callerid", "")
        resolution = await asyncio.to_thread(
            self.masking.resolve, caller, dialled, pin if _DIGITS.match(pin or "") else ""
        )
        return self._masked_steps(resolution, note, pin_asked=True)

    def _masked_steps(self, resolution: object, note: CallNote, pin_asked: bool = False) -> list[Step]:
        if isinstance(resolution, Connect):
            note.masking_session = resolution.session_id
            note.order_ref, note.case_ref = resolution.order_ref, resolution.case_ref
            note.caller_role, note.caller_ref = resolution.caller_role, resolution.caller_ref
            note.callee_role, note.callee_ref = resolution.callee_role, resolution.callee_ref
            try:
                channel = carrier_channel(resolution.dial_number)
            except UnsafeDialTarget:
                note.refused = "bad_number"
                return [Step("announce", "refused", announce=REFUSED_SOUND)]
            # The proxy number is the only identity the callee sees; no reference headers go to
            # the carrier on a masked call.
            return [Step("dial", f"masked:{resolution.callee_role}", channel, 45, caller_id=resolution.caller_id)]
        if isinstance(resolution, NeedPin) and not pin_asked:
            return [Step("read_pin", "pin")]
        note.refused = getattr(getattr(resolution, "refusal", None), "code", None) or "refused"
        return [Step("announce", "refused", announce=REFUSED_SOUND)]

    # -- answering the dialplan
    async def _answer(self, call: AgiCall, step: Step) -> None:
        # The step goes back as one variable, "action,arg1,arg2", which the dialplan splits with
        # ARRAY(): every AGI command is a round trip, and under load each one waits its turn in
        # Tugi's event loop (bench/call_setup.py).
        if step.action == "dial":
            if step.caller_id:
                await call.set("CALLERID(num)", step.caller_id)
                await call.set("CALLERID(name)", step.caller_id)
            for name, value in step.headers:
                await call.set(f"_{name}", value)
            answer: tuple[str | int, ...] = ("dial", step.dial, step.ring)
        elif step.action == "read_pin":
            answer = ("read_pin", PIN_PROMPT, self.settings.masking.pin_digits)
        elif step.action == "announce":
            answer = ("announce", step.announce)
        else:
            answer = ("hangup", step.cause)
        await call.set("TUGI_ANSWER", answer_value(answer))

    def _forget_old(self) -> None:
        if len(self.notes) < 1000:
            return
        horizon = time.monotonic() - NOTE_TTL
        for key in [k for k, note in self.notes.items() if note.created < horizon]:
            del self.notes[key]


def _fitting_dial_strings(targets: tuple[Target, ...], settings: Settings) -> list[str]:
    """The targets' dial string, split into several where one would be too long for Asterisk."""
    parts = [""]
    for channel in (dial_string((target,), settings) for target in targets):
        if parts[-1] and len(parts[-1]) + 1 + len(channel) > MAX_DIAL_STRING:
            parts.append("")
        parts[-1] = f"{parts[-1]}&{channel}" if parts[-1] else channel
    return parts


def answer_value(parts: tuple[str | int, ...]) -> str:
    """The TUGI_ANSWER value for one step; a comma inside a part would shift the fields."""
    texts = [str(part) for part in parts]
    if any("," in text for text in texts):
        raise UnsafeDialTarget(f"a {texts[0]} step's value contains a comma")
    return ",".join(texts)


def _dialled(call: AgiCall) -> str:
    """What the caller dialled: the dialplan passes it, already filtered, as the third argument."""
    args = call.args
    return args[2][:64] if len(args) > 2 else ""
