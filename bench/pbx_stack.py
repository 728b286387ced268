"""A real Asterisk + `tugi run` + a sipp phone bank, for the benchmarks that need calls.

The shop has `agents` staff whose phones are one sipp UAS at AGENTS_IP (static contacts, so
hundreds of phones need no registrations). Two extra trunks stand in for browsers:
- calls from TUGI_CALLER_IP enter Tugi's own web-call context (`tugi-web`): the token is
  checked and the route decided over FastAGI, exactly as for the widget;
- calls from STATIC_CALLER_IP enter `bench-static`, which sets the same variables and dials
  the named person straight away: the baseline without Tugi in the path.
Everything listens on loopback addresses only, on ports of its own (not the tests' ports).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.loader import parse_settings
from config.schema import Settings
from dialplans.render import render
from pbx_bridge.call_tokens import CallTokens
from tugi.local_asterisk import LocalAsterisk, ensure_root

AMI_PORT = 16038
SIP_PORT = 16060
AGI_PORT = 16573
HTTP_PORT = 16088
TUGI_HTTP_PORT = 16080
AGENTS_IP, AGENTS_PORT = "127.0.0.10", 16090
TUGI_CALLER_IP = "127.0.0.5"
STATIC_CALLER_IP = "127.0.0.6"
CALLER_PORT = 16070
AMI_SECRET = "bench-ami-secret"
TOKEN_KEY = "bench-call-token-key"
SHOP_ID = "benchshop"


def agent_ids(agents: int) -> list[str]:
    return [f"a{i:04d}" for i in range(1, agents + 1)]


def bench_toml(agents: int) -> str:
    staff = "".join(
        f'\n[[staff]]\nid = "{a}"\nname = "Agent {a}"\nextension = "{5000 + i}"\nsecret = "bench-{a}-secret"\n'
        for i, a in enumerate(agent_ids(agents), start=1)
    )
    every_day = "\n".join(f'{d} = "00:00-24:00"' for d in
                          ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    return f"""
[shop]
id = "{SHOP_ID}"
name = "Bench Shop"
timezone = "Europe/Tallinn"
default_region = "EE"

[shop.hours]
{every_day}
public_holidays = ""
{staff}
[outsourced]
enabled = false

[routing]
strategy = "ring_all"
person_ring_seconds = 20
team_ring_seconds = 20

[asterisk]
ami_port = {AMI_PORT}
ami_username = "tugi"
ami_secret = "{AMI_SECRET}"
sip_port = {SIP_PORT}
http_port = {HTTP_PORT}
rtp_start = 20000
rtp_end = 29999

[agi]
port = {AGI_PORT}

[database]
url = "sqlite:///history.sqlite3"
encryption_key = "bench-history-key-0123456789"

[http]
port = {TUGI_HTTP_PORT}
allowed_origins = ["http://127.0.0.1:{TUGI_HTTP_PORT}"]
token_secret = "{TOKEN_KEY}"
api_tokens = {{ backoffice = "bench-backoffice-token" }}
"""


def _caller_trunk(name: str, context: str, ip: str) -> str:
    # Identical trunks but for the context, so the two paths differ only by Tugi.
    return (
        f"\n[{name}]\ntype=endpoint\ncontext={context}\ntransport=transport-udp\ndisallow=all\nallow=ulaw\n"
        f"aors={name}\ndirect_media=no\nrtp_symmetric=yes\n"
        "send_connected_line=no\n"
        f"\n[{name}]\ntype=aor\ncontact=sip:{ip}:{CALLER_PORT}\nqualify_frequency=0\n"
        f"\n[{name}]\ntype=identify\nendpoint={name}\nmatch={ip}\n"
    )


def bench_pjsip(settings: Settings) -> str:
    (pjsip,) = [f.text for f in render(settings) if f.name == "pjsip.conf"]
    for agent in (p.endpoint for p in settings.staff):
        # A static contact at the sipp phone bank instead of a registration; no OPTIONS pings,
        # which sipp's UAS does not answer.
        pjsip = re.sub(
            rf"(\[{agent}\]\ntype=aor\n)max_contacts=3\nremove_existing=yes\nqualify_frequency=30\n",
            rf"\1contact=sip:{agent}@{AGENTS_IP}:{AGENTS_PORT}\nqualify_frequency=0\n",
            pjsip,
        )
    return pjsip + _caller_trunk("bench-tugi", "tugi-web", TUGI_CALLER_IP) + _caller_trunk(
        "bench-static", "bench-static", STATIC_CALLER_IP)


RAW_AMI_USER = "bench-raw"


def bench_manager(settings: Settings) -> str:
    """Tugi's manager.conf plus a user with the same read classes but no event filter: the
    stream an AMI client gets from a PBX whose manager.conf was not written for it."""
    (manager,) = [f.text for f in render(settings) if f.name == "manager.conf"]
    (read,) = [line for line in manager.splitlines() if line.startswith("read=")]
    return manager + (
        f"\n[{RAW_AMI_USER}]\nsecret={AMI_SECRET}\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n"
        f"{read}\nwrite=system\n"
    )


def bench_extensions(settings: Settings) -> str:
    (extensions,) = [f.text for f in render(settings) if f.name == "extensions.conf"]
    return extensions + (
        "\n; Benchmark baseline: the same entry steps as [tugi-web], then Dial the named person\n"
        "; directly, where [tugi-web] asks Tugi first.\n"
        "[bench-static]\n"
        "exten => _[0-9a-z].,1,Set(TUGI_KIND=web)\n"
        " same => n,Set(TUGI_DIALED=${FILTER(a-z0-9_-,${EXTEN})})\n"
        " same => n,Set(TUGI_TOKEN=${PJSIP_HEADER(read,X-Tugi-Token)})\n"
        " same => n,Dial(PJSIP/${TUGI_DIALED},20,Ib(tugi-predial^s^1))\n"
        " same => n,Hangup()\n"
    )


@dataclass
class Stack:
    settings: Settings
    asterisk: LocalAsterisk
    tugi: subprocess.Popen[bytes]
    agents: subprocess.Popen[bytes]
    workdir: Path

    def tokens(self, agents: list[str]) -> list[str]:
        """One call token per agent, as the widget would fetch before calling."""
        issuer = CallTokens(TOKEN_KEY, SHOP_ID, lifetime=timedelta(hours=2))
        now = datetime.now(UTC)
        return [issuer.issue(agent, f"bench-{agent}", now)[0] for agent in agents]

    def cpu_seconds(self) -> dict[str, float]:
        """User+system CPU time so far of Tugi, Asterisk and the sipp phone bank."""
        assert self.asterisk.process is not None
        return {
            "tugi": process_cpu(self.tugi.pid),
            "asterisk": process_cpu(self.asterisk.process.pid),
            "agents": process_cpu(self.agents.pid),
        }


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def wait_for_line(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    tail = path.read_text(errors="replace")[-2000:] if path.exists() else ""
    raise RuntimeError(f"{needle!r} did not appear in {path} after {timeout:.0f} s:\n{tail}")


@contextlib.contextmanager
def running_stack(agents: int = 300, keep: bool = False) -> Iterator[Stack]:
    """Asterisk, `tugi run` and the sipp phone bank, all stopped again on exit."""
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester); scripts/setup.sh installs it")
    settings = parse_settings(bench_toml(agents), "bench/pbx_stack.py")
    workdir = Path(tempfile.mkdtemp(prefix="tugi-bench-"))
    config = workdir / "bench.toml"
    config.write_text(bench_toml(agents))
    asterisk = LocalAsterisk(settings, name=f"bench-{os.getpid()}", root=ensure_root())
    asterisk.start(extra={"pjsip.conf": bench_pjsip(settings), "extensions.conf": bench_extensions(settings),
                          "manager.conf": bench_manager(settings)})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        log = workdir / "tugi.log"
        with open(log, "wb") as out:
            tugi = subprocess.Popen(
                [sys.executable, "-m", "tugi.cli", "run", "--config", str(config)],
                cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TUGI_DATA": str(workdir)},
                start_new_session=True,
            )
        processes.append(tugi)
        # From Tugi's log rather than by connecting: a probe would be a FastAGI request with no script.
        wait_for_line(log, "FastAGI listening", 60)
        wait_for_line(log, "AMI: logged in", 60)
        with open(workdir / "agents.log", "wb") as out:
            phones = subprocess.Popen(
                ["sipp", "-sn", "uas", "-i", AGENTS_IP, "-p", str(AGENTS_PORT), "-nostdin", "-max_socket", "10000"],
                cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        processes.append(phones)
        time.sleep(0.5)
        if phones.poll() is not None:
            raise RuntimeError(f"the sipp phone bank exited: {(workdir / 'agents.log').read_text()[-2000:]}")
        yield Stack(settings, asterisk, tugi, phones, workdir)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        asterisk.stop()
        if not keep:
            shutil.rmtree(asterisk.dir, ignore_errors=True)
            shutil.rmtree(workdir, ignore_errors=True)
