"""Alembic environment for the history tables; `history.migrate` is the usual way in.

The database URL comes from `config.attributes["url"]` (or `sqlalchemy.url`); an open
connection in `config.attributes["connection"]` is used as is.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import Connection, create_engine, pool

import history.models  # noqa: F401  (registers the tables on Base.metadata)
from history.base import Base


def _import_optional(name: str) -> None:
    """Tables another part of history adds, once that module exists."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise


_import_optional("history.masking_models")

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass one to history.migrate.upgrade()")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
