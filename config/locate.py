"""Find the line of a TOML file that holds a given key, so an error can point at it.

`tomllib` keeps no positions, and a config error that says only "staff.1.secret" makes the
integrator count tables by hand. This scanner understands the TOML an integrator writes —
tables, arrays of tables, dotted keys, inline tables and multi-line arrays — well enough to
map a key path to a line; where it cannot, the nearest enclosing key's line is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=(.*)$")
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class LineIndex:
    """Key path → 1-based line number, built by one pass over the file's text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        self._scan(text.splitlines())

    def _scan(self, lines: Sequence[str]) -> None:
        table: Path = ()
        array_counts: dict[Path, int] = {}
        open_array: tuple[Path, int] | None = None  # (path of the array, next index)
        for number, line in enumerate(lines, start=1):
            if open_array is not None:
                path, index = open_array
                for _ in _STRING.findall(line.split("#")[0]):
                    self._lines.setdefault((*path, index), number)
                    index += 1
                open_array = None if "]" in _STRING.sub("", line.split("#")[0]) else (path, index)
                continue
            header = _HEADER.match(line)
            if header:
                names = _split_key(header.group(2))
                resolved: list[str | int] = []
                for depth, name in enumerate(names):
                    resolved.append(name)
                    prefix = tuple(resolved)
                    is_last = depth == len(names) - 1
                    if header.group(1) == "[[" and is_last:
                        array_counts[prefix] = array_counts.get(prefix, -1) + 1
                        resolved.append(array_counts[prefix])
                    elif prefix in array_counts:
                        resolved.append(array_counts[prefix])
                table = tuple(resolved)
                self._lines.setdefault(table, number)
                if header.group(1) == "[[":
                    self._lines.setdefault(table[:-1], number)
                continue
            key = _KEY.match(line)
            if not key:
                continue
            path = table + tuple(_split_key(key.group(1)))
            self._lines.setdefault(path, number)
            value = key.group(2).split("#")[0].strip()
            if value.startswith("{"):
                for inner in re.findall(r"([A-Za-z0-9_-]+)\s*=", value):
                    self._lines.setdefault((*path, inner), number)
            elif value.startswith("["):
                for index, _ in enumerate(_STRING.findall(value)):
                    self._lines.setdefault((*path, index), number)
                if "]" not in _STRING.sub("", value):
                    open_array = (path, len(_STRING.findall(value)))

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that the file names."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None
