"""The rendered configuration in a real Asterisk 22, with real SIP phones."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from panoramisk import Manager

from dialplans.render import AMI_EVENTS
from tests.support import shop

TUGI_CONTEXTS = (
    "tugi-internal",
    "tugi-web",
    "tugi-callback",
    "tugi-from-carrier",
    "tugi-route",
    "tugi-predial",
    "tugi-extensions",
)


async def _ami_dialplan_contexts() -> set[str]:
    manager = Manager(
        host="127.0.0.1", port=shop.AMI_PORT, username="tugi", secret=shop.AMI_SECRET, ping_delay=0
    )
    await manager.connect()
    try:
        for _ in range(50):
            if manager.authenticated:
                break
            await asyncio.sleep(0.1)
        assert manager.authenticated
        reply = await asyncio.wait_for(manager.send_action({"Action": "ShowDialPlan"}), 10)
        messages = reply if isinstance(reply, list) else [reply]
        return {m.get("Context") for m in messages if m.get("Event") == "ListDialplan"}
    finally:
        manager.close()


def test_rendered_configuration_loads_without_errors(pbx) -> None:
    contexts = asyncio.run(_ami_dialplan_contexts())
    assert set(TUGI_CONTEXTS) <= contexts
    endpoints = pbx.cli("pjsip show endpoints")
    for name in ("alice", "bob", "carol", "dan", "carrier", "outsourced", "tugi-web-guest"):
        assert f" {name} " in endpoints or f" {name}/" in endpoints, endpoints
    errors = [line for line in pbx.log_text().splitlines() if "ERROR[" in line]
    assert errors == []


def test_ami_user_has_only_tugis_privileges(pbx) -> None:
    shown = pbx.cli("manager show user tugi")
    assert "command" not in shown.split("write perm:")[-1].lower().split("\n")[0]
    assert "originate" in shown.lower()


def test_staff_phones_register_and_call_each_other(pbx, phones) -> None:
    alice, bob = phones["alice"], phones["bob"]
    contacts = pbx.cli("pjsip show contacts")
    assert "alice/sip:alice@127.0.0.1" in contacts and "bob/sip:bob@127.0.0.1" in contacts

    outgoing = alice.call("202")
    ringing = bob.wait_incoming(timeout=10)
    assert ringing.caller_id == "201"
    assert ringing.caller_name == "Alice Aas"
    ringing.answer()
    outgoing.wait_confirmed()
    ringing.wait_confirmed()
    time.sleep(1.0)
    assert ringing.rx_packets() > 10, "no audio reached Bob"
    outgoing.hangup()
    outgoing.wait_disconnected()
    ringing.wait_disconnected()
    assert "CONFIRMED" in outgoing.seen.states and outgoing.seen.states[-1] == "DISCONNECTED"
    assert pbx.cli("core show channels count").startswith("0 active channels")


class _RawAmiListener(threading.Thread):
    """Logs in as Tugi's AMI user and keeps every event name it is sent."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", shop.AMI_PORT), timeout=10)
        self.sock.sendall(f"Action: Login\r\nUsername: tugi\r\nSecret: {shop.AMI_SECRET}\r\n\r\n".encode())
        self.data = b""
        while b"Authentication accepted" not in self.data:
            self.data += self.sock.recv(4096)
        self.stopped = threading.Event()

    def run(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                self.data += self.sock.recv(65536)
            except TimeoutError:
                continue

    def event_names(self) -> set[str]:
        return {line[7:] for line in self.data.decode(errors="replace").split("\r\n") if line.startswith("Event: ")}


def test_tugis_ami_user_is_sent_only_the_events_tugi_reads(pbx, phones) -> None:
    listener = _RawAmiListener()
    listener.start()
    alice, bob = phones["alice"], phones["bob"]
    outgoing = alice.call("202")
    ringing = bob.wait_incoming(timeout=10)
    ringing.answer()
    outgoing.wait_confirmed()
    outgoing.hangup()
    ringing.wait_disconnected()
    time.sleep(0.5)
    listener.stopped.set()
    listener.join()
    listener.sock.close()
    names = listener.event_names()
    # The call happened (CEL and device states came), and nothing Tugi would throw away did.
    assert {"CEL", "DeviceStateChange"} <= names
    assert names <= set(AMI_EVENTS) | {"FullyBooted"}, names - set(AMI_EVENTS)


@pytest.mark.parametrize("password", ["wrong-password"])
def test_a_phone_with_a_wrong_password_is_refused(pbx, sip_agent, password: str) -> None:
    from tests.support.sip import SipTestError

    phone = sip_agent.phone("carol", password=password, registrar=f"127.0.0.1:{shop.SIP_PORT}", wait=False)
    try:
        with pytest.raises(SipTestError, match="did not register"):
            phone.wait_registered(3)
    finally:
        phone.close()
