"""The widget in a real browser: headless Chromium, the real Asterisk, Tugi and pjsua2 phones.

Each test runs one scenario of `tests.support.netns_stack` in a network namespace of its own
(`unshare`), where the only interfaces are loopback and a veth that exists only there, so no
packet can leave the machine and the stack may use the test shop's usual ports. The scenario
prints what it saw as JSON; screenshots of the card, the browser console and Asterisk's log
land in test-artifacts/widget/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "widget"
TIMEOUT = 120
UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (unshare of a network namespace, chroot for Asterisk)"
    for tool in ("unshare", "ip", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/usr/bin/chromium").exists():
        return "Debian's chromium is not installed (/usr/bin/chromium)"
    for module in ("playwright", "pjsua2"):
        try:
            __import__(module)
        except ImportError:
            return f"Python module {module} is not installed"
    return None


@pytest.fixture(scope="module")
def asterisk_root() -> Path:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from tugi.local_asterisk import ensure_root

    # built (once) out here: inside the namespace there is no network to fetch packages from
    return ensure_root()


def run_scenario(scenario: str, asterisk_root: Path) -> dict[str, Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{scenario}-*"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["TUGI_ASTERISK_ROOT"] = str(asterisk_root)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [*UNSHARE, sys.executable, "-m", "tests.support.netns_stack", scenario, str(ARTIFACTS)]
    runs = asterisk_root / "tugi-runs"
    before = set(runs.glob("browser-*"))
    try:
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        # unshare is killed; --kill-child takes the scenario down and, with it, its PID namespace
        # (Asterisk and Chromium included); only the instance folder is left to remove
        if os.environ.get("TUGI_KEEP_PBX_RUNS") != "1":
            for left in set(runs.glob("browser-*")) - before:
                shutil.rmtree(left, ignore_errors=True)
        stderr = exc.stderr or ""
        tail = (stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr)[-3000:]
        pytest.fail(f"scenario {scenario} took more than {TIMEOUT} s; stderr tail:\n{tail}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    try:
        observed = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(
            f"scenario {scenario} printed no JSON (exit {result.returncode});"
            f" stderr tail:\n{result.stderr[-3000:]}"
        )
    (ARTIFACTS / f"{scenario}-observed.json").write_text(json.dumps(observed, indent=2, ensure_ascii=False) + "\n")
    assert observed.get("ok"), (
        f"scenario {scenario} failed: {observed.get('failure')}\n"
        f"(see {ARTIFACTS}/{scenario}-*; stderr tail:\n{result.stderr[-3000:]})"
    )
    assert observed["errors"] == [], observed["errors"]
    assert observed["asterisk_stopped"] is True
    assert set(observed["interfaces"]) == {"lo", "tugi0", "tugi1"}
    for shot in observed["screenshots"]:
        assert (ARTIFACTS / shot["file"]).stat().st_size > 0
    return observed


def test_presence_dot_follows_the_phone(asterisk_root: Path) -> None:
    seen = run_scenario("presence", asterisk_root)
    assert seen["name"] == "Alice Aas"
    assert seen["dot_initial"] == "available"
    assert seen["aria_initial"] == "Alice Aas is available"
    assert seen["photo_loaded"] is True
    for label in ("first", "after_reconnect"):
        assert 0 <= seen[f"{label}_red_delay_s"] < 1.0
        assert 0 <= seen[f"{label}_green_delay_s"] < 1.0
        assert seen[f"{label}_aria_busy"] == "Alice Aas is busy"
    assert seen["ws_reconnected"] is True
    assert seen["aria_offline"] == "Alice Aas is offline"
    assert "Opening hours: Wednesday 09:00-17:00" in seen["hours_text"]
    assert seen["card_font_is_sans"] is True
    assert len(seen["screenshots"]) == 5


def test_call_from_the_browser_reaches_the_phone_with_media(asterisk_root: Path) -> None:
    seen = run_scenario("call", asterisk_root)
    assert seen["phone_rang"] is True
    assert seen["caller_name_on_phone"] == "Web visitor"
    assert seen["status_while_ringing"] == "Calling…"
    assert seen["status_connected"] == "Connected"
    assert seen["phone_rx_packets_3s"] > 50
    media = seen["browser_media"]
    assert media["ice"] in ("connected", "completed")
    assert media["dtls"] == "connected"
    assert media["codec"] == "audio/opus"
    assert media["packets_received"] > 50
    assert media["packets_sent"] > 50
    assert media["remote_candidate"].startswith("127.0.0.1:")
    assert media["audio_element_has_stream"] is True
    assert seen["mute_pressed"] == "true"
    assert seen["unmute_pressed"] == "false"
    assert seen["phone_disconnected"] is True
    assert seen["status_after"] == "Call ended"
    assert seen["call_button_back"] is True
    assert seen["focus_after_tab"] == "hangup"
    assert seen["focus_after_call"] == "call"   # the keyboard user lands on Call again, not on <body>
    note = seen["routing_note"]
    assert note["kind"] == "web"
    assert note["page_ref"] == "cart-42"
    assert note["targets_tried"] == ["alice"]
    (record,) = seen["history_records"]
    assert record["channel"] == "web"
    assert record["page_ref"] == "cart-42"
    assert record["answered_by"] == "alice"
    assert record["disposition"] == "answered"


def test_forged_and_expired_tokens_are_refused(asterisk_root: Path) -> None:
    seen = run_scenario("refused", asterisk_root)
    for label in ("forged", "expired"):
        assert seen[f"{label}_status"] == "Call refused — please try again"
        assert seen[f"{label}_call_state"] == "refused"
        assert seen[f"{label}_phone_rang"] is False
    assert "403" in seen["sip_final_responses"]
    assert seen["refused_notes"] == 2


def test_call_back_rings_staff_first_then_the_customer(asterisk_root: Path) -> None:
    seen = run_scenario("callback", asterisk_root)
    assert seen["invalid_message"].startswith("This does not look like a complete phone number")
    assert seen["invalid_aria"] == "true"
    assert seen["invalid_focus_on_field"] is True
    assert seen["accepted_message"].startswith("Thank you")
    assert seen["field_error_hidden"] is True
    assert seen["staff_caller_name"] == "Call-back"
    assert seen["customer_rang_before_staff_answered"] is False
    assert seen["in_order"] is True
    assert seen["customer_request_uri_has_number"] is True
    assert seen["customer_sees_shop_number"] is True


def test_demo_phones_answer_a_browser_call(asterisk_root: Path) -> None:
    """tugi.demo's phones (what `tugi up` starts): a call to the team is answered and heard."""
    seen = run_scenario("demo", asterisk_root)
    assert seen["name"] == "Our team"
    assert seen["photo"].endswith("/static/photos/team.svg")
    assert 1.5 <= seen["answered_after_s"] < 8
    assert seen["answered_by"] and len(seen["answered_by"]) == 1
    media = seen["browser_media"]
    assert media["packets_received"] > 50
    assert media["total_audio_energy"] > 0
    assert seen["demo_phones_registered"] == ["alice", "bob", "carol", "dan"]
    assert seen["demo_thread_stopped"] is True
