"""AMI wire format: frames in, actions out — with the two fixes panoramisk's protocol lacks.

panoramisk decodes each TCP read on its own with errors ignored, so a UTF-8 character split
across two reads is lost ("Müller" → "Mller"); here bytes are buffered until a whole frame
(ending in a blank line) is there, and only then decoded. panoramisk also writes field values
verbatim, so a CR/LF in a value starts a new action; here such a value is refused.
A frame becomes an `AmiMessage`, a plain dict of its fields as Asterisk spelled them: building
panoramisk's case-insensitive `Message` was a third of an event's cost in Tugi
(bench/ami_ingestion.py), and Asterisk's spelling of a field never varies within one event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

FRAME_END = b"\r\n\r\n"
MAX_FRAME = 1 << 20  # a frame larger than 1 MiB is a broken stream, not an event

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_FORBIDDEN = re.compile(r"[\r\n\x00]")

FieldValue = str | int | Sequence[str]


class AmiMessage(dict[str, str | list[str]]):
    """One event or reply: field → value; a field sent more than once → the list of its values."""


class AmiInjectionError(ValueError):
    """A value bound for AMI carried a line break or NUL: an injection, refused whole."""

    def __init__(self, field: str) -> None:
        super().__init__(f"AMI field {field!r} contains a line break or NUL character; refused")
        self.field = field


def encode_action(fields: Mapping[str, FieldValue]) -> bytes:
    """Encode one action; every name and value is checked before anything is written."""
    lines: list[str] = []
    for name, value in fields.items():
        if not _NAME.match(name):
            raise AmiInjectionError(name)
        values = [value] if isinstance(value, str | int) else list(value)
        for item in values:
            text = str(item)
            if _FORBIDDEN.search(text):
                raise AmiInjectionError(name)
            lines.append(f"{name}: {text}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class FrameBuffer:
    """Accumulates bytes from the socket and yields whole AMI messages.

    With `events`, an event of another name is dropped before it is parsed — parsing is most
    of the cost of an event, and a PBX whose manager.conf does not filter for Tugi sends four
    times as many as Tugi reads. Replies to actions (and their event lists) always pass.
    """

    def __init__(self, events: frozenset[str] | None = None) -> None:
        self._buffer = bytearray()
        self._events = {name.encode() for name in events} if events is not None else None
        self.banner: str | None = None
        self.skipped = 0
        self.ignored = 0

    def feed(self, data: bytes) -> Iterator[AmiMessage]:
        self._buffer += data
        if self.banner is None:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            self.banner = self._buffer[:end].decode("utf-8", "replace")
            del self._buffer[: end + 2]
        while True:
            end = self._buffer.find(FRAME_END)
            if end < 0:
                if len(self._buffer) > MAX_FRAME:
                    self._buffer.clear()
                    self.skipped += 1
                return
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(FRAME_END)]
            if self._events is not None and self._unwanted(raw, self._events):
                self.ignored += 1
                continue
            message = parse_frame(raw)
            if message is None:
                self.skipped += 1
                continue
            yield message


    @staticmethod
    def _unwanted(raw: bytes, events: set[bytes]) -> bool:
        head, _, _ = raw.lstrip(b"\r\n").partition(b"\r\n")
        if not head.startswith(b"Event: "):
            return False  # a reply to an action: always parsed
        return head[7:].strip() not in events and b"\nActionID: " not in raw


def parse_frame(raw: bytes) -> AmiMessage | None:
    """One frame's bytes → its fields, or None for a frame with none."""
    message = AmiMessage()
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            continue
        if name in message:
            # ChanVariable and friends repeat; keep every value, as panoramisk does
            earlier = message[name]
            message[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            message[name] = value
    return message or None
