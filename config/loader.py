"""Read one TOML file into `Settings`, or explain exactly what is wrong with it and where."""

from __future__ import annotations

import re
import tomllib
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError

from config.locate import LineIndex
from config.schema import WEEKDAYS, Settings

EXAMPLE_NAME = "example.toml"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file, in words an integrator can act on."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def example_path() -> Path:
    """The commented example configuration shipped with Tugi."""
    return Path(str(resources.files("config").joinpath(EXAMPLE_NAME)))


def load_settings(path: str | Path) -> Settings:
    """Load and validate a configuration file; raise `ConfigError` naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), None, "", f"the file is not UTF-8 text ({exc.reason})")]) from None
    return parse_settings(text, str(path))


def parse_settings(text: str, filename: str = "<config>") -> Settings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 puts the position only into the message: "... (at line 3, column 9)".
        found = re.search(r"\(at line (\d+), column \d+\)$", str(exc))
        line = int(found.group(1)) if found else None
        message = str(exc)[: found.start()].strip() if found else str(exc)
        raise ConfigError([Problem(filename, line, "", f"not valid TOML: {message}")]) from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        index = LineIndex(text)
        problems = [_problem(filename, index, error) for error in exc.errors(include_url=False)]
        raise ConfigError(problems) from None


def _problem(filename: str, index: LineIndex, error: dict) -> Problem:
    loc = tuple(error["loc"])
    key = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        expected = _known_keys(loc[:-1])
        message = f"unknown key {loc[-1]!r}"
        if expected:
            message += f"; expected one of: {', '.join(expected)}"
    elif kind == "missing":
        message = "required key is missing"
        if loc and loc[-1] in {"secret", "ami_secret"}:
            message += ' (write the secret here, or { env = "VARIABLE_NAME" } to read it from the environment)'
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        if "input" in error and kind not in {"value_error"} and not isinstance(error["input"], dict | list):
            message += f" (got {error['input']!r})"
    return Problem(filename, index.line_of(loc), key, message)


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the schema allows at `loc`, for a helpful 'expected one of' list."""
    model: object = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        keys = list(model.model_fields)
        if set(WEEKDAYS) <= set(keys):
            keys = [k for k in keys if k not in WEEKDAYS] + ["monday … sunday"]
        return keys
    return []


def _model_in(annotation: object) -> object:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
