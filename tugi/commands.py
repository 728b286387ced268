"""Sub-commands beyond config and asterisk; each entry adds its parser to the `tugi` command."""

from __future__ import annotations

REGISTRARS: list = []
