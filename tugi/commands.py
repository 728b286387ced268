"""Sub-commands beyond config and asterisk; each entry adds its parser to the `tugi` command."""

from __future__ import annotations

from tugi import db_command, gdpr_command, route_command, run_command

REGISTRARS: list = [route_command.register, db_command.register, run_command.register, gdpr_command.register]
