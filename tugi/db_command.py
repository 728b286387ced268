"""`tugi db upgrade|current`: migrate the history database named by the configuration."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    """Add the `db` command to the `tugi` parser (see tugi.commands.REGISTRARS)."""
    db = subparsers.add_parser("db", help="the history database: migrate it, show its revision")
    actions = db.add_subparsers(dest="action", required=True)

    upgrade = actions.add_parser("upgrade", help="apply the database migrations this version of Tugi ships")
    upgrade.add_argument("--config", required=True, metavar="FILE", help="Tugi configuration file (TOML)")
    upgrade.add_argument("--revision", default="head", help="migrate up to this revision (default: head)")
    upgrade.set_defaults(func=cmd_db_upgrade)

    current = actions.add_parser("current", help="show which migration the database is at")
    current.add_argument("--config", required=True, metavar="FILE", help="Tugi configuration file (TOML)")
    current.set_defaults(func=cmd_db_current)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from history import migrate

    url = _database_url(args.config)
    try:
        migrate.upgrade(url, args.revision)
        revision = migrate.current(url)
    except _database_errors() as exc:
        return _failed(args.config, url, exc)
    print(f"{_shown(url)}: at revision {revision}")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    from history import migrate

    url = _database_url(args.config)
    try:
        revision = migrate.current(url)
    except _database_errors() as exc:
        return _failed(args.config, url, exc)
    head = migrate.head()
    if revision is None:
        state = "never migrated; run `tugi db upgrade --config FILE`"
    elif revision == head:
        state = "up to date"
    else:
        state = f"behind (newest is {head}); run `tugi db upgrade --config FILE`"
    print(f"{_shown(url)}: revision {revision or '-'} — {state}")
    return EXIT_OK


def _database_errors() -> tuple[type[Exception], ...]:
    """What an unreachable database or a bad revision raises: the operator needs the reason, not a traceback."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    return (SQLAlchemyError, CommandError)


def _database_url(path: str) -> str:
    from config.loader import load_settings

    # alembic announces each of its plugins at INFO; the operator wants the migrations only
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return load_settings(path).database.url


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _failed(config: str, url: str, exc: Exception) -> int:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    print(
        f"error: {config}: database.url {_shown(url)}: {reason}\n"
        "Check that the database server is running and the URL, user and database name are right.",
        file=sys.stderr,
    )
    return EXIT_FAILED
