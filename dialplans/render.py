"""Render the Asterisk configuration Tugi needs from a shop's settings.

Every value that reaches a template was validated by `config.schema` (ids, hosts, numbers
and secrets have safe alphabets), so the templates can interpolate without escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from config.schema import Settings

TEMPLATES = (
    "extensions.conf",
    "pjsip.conf",
    "manager.conf",
    "http.conf",
    "rtp.conf",
    "cel.conf",
    "cel_custom.conf",
    "cdr.conf",
    "cdr_manager.conf",
    "modules.conf",
    "features.conf",
)

# CEL events Tugi's call tracker and reconciliation read; LINKEDID_END closes a call.
CEL_EVENTS = (
    "CHAN_START",
    "CHAN_END",
    "ANSWER",
    "HANGUP",
    "BRIDGE_ENTER",
    "BRIDGE_EXIT",
    "APP_START",
    "APP_END",
    "PARK_START",
    "PARK_END",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
    "PICKUP",
    "FORWARD",
    "LOCAL_OPTIMIZE",
    "USER_DEFINED",
    "LINKEDID_END",
)

# What Tugi's AMI user may do, and nothing more: read call, device and CDR/CEL events,
# originate call-backs, hang up or redirect its own calls, list channels and states.
AMI_READ = ("system", "call", "cdr", "user", "agent", "reporting")
AMI_WRITE = ("call", "originate", "reporting")
# The events Tugi reads. Everything else the read classes carry (Newexten, VarSet, Cdr,
# Newchannel, DialBegin, TestEvent…) is three quarters of the stream on a busy PBX
# (bench/ami_capture.py), and would only be parsed to be thrown away.
AMI_EVENTS = ("CEL", "Hold", "Unhold", "DeviceStateChange", "ContactStatus")


@dataclass(frozen=True)
class RenderedFile:
    name: str
    text: str


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dialplans", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(settings: Settings) -> list[RenderedFile]:
    """Render every file in `TEMPLATES`; nothing is written."""
    env = _environment()
    carrier_match = settings.carrier.match or (settings.carrier.host,)
    context = {
        "s": settings,
        "agi_url": f"agi://{settings.agi.host}:{settings.agi.port}",
        "carrier_match": carrier_match,
        "proxy_numbers": settings.masking.pool,
        "cel_events": ",".join(CEL_EVENTS),
        "ami_read": ",".join(AMI_READ),
        "ami_write": ",".join(AMI_WRITE),
        "ami_events": AMI_EVENTS,
    }
    return [RenderedFile(name, env.get_template(name + ".j2").render(context)) for name in TEMPLATES]


def write(settings: Settings, out_dir: str | Path) -> list[Path]:
    """Render and write every file into `out_dir` (created if missing); return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rendered in render(settings):
        path = out / rendered.name
        path.write_text(rendered.text, encoding="utf-8")
        written.append(path)
    return written
