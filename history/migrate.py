"""Bring a history database to the newest schema, from Python or `tugi db upgrade`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool


@contextlib.contextmanager
def alembic_config(url: str) -> Iterator[Config]:
    """An Alembic configuration for the migrations shipped inside the `history` package."""
    with resources.as_file(resources.files("history").joinpath("migrations")) as folder:
        config = Config()
        config.set_main_option("script_location", str(Path(folder)))
        # configparser would read "%" in a password as interpolation; env.py prefers this attribute
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        config.attributes["url"] = url
        yield config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` (idempotent: an up-to-date database is left alone)."""
    with alembic_config(url) as config:
        command.upgrade(config, revision)


def current(url: str) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision this version of Tugi ships."""
    with alembic_config("sqlite://") as config:
        return ScriptDirectory.from_config(config).get_current_head()
