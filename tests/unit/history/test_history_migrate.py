"""Migrations run from Python and from `tugi db`, on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from config.loader import example_path
from history import migrate
from tugi.cli import main

HISTORY_TABLES = {"customer", "contact_point", "support_case", "interaction", "call_leg", "call_uniqueid",
                  "event_journal"}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_tables_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    assert migrate.current(url) is None
    migrate.upgrade(url)
    migrate.upgrade(url)  # already there: nothing to do
    assert tables(url) >= HISTORY_TABLES
    assert migrate.current(url) == migrate.head()


def test_upgrade_stops_at_a_given_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    migrate.upgrade(url, "0001_history")
    assert migrate.current(url) == "0001_history"
    assert tables(url) - {"alembic_version"} == HISTORY_TABLES
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()


def test_the_migrations_ship_inside_the_package() -> None:
    with migrate.alembic_config("postgresql+psycopg://tugi:p%40ss@db/tugi") as config:
        folder = Path(config.get_main_option("script_location") or "")
        assert (folder / "env.py").is_file()
        assert (folder / "script.py.mako").is_file()
        assert (folder / "versions" / "0001_history.py").is_file()
        # a "%" in a password must survive configparser
        assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://tugi:p%40ss@db/tugi"
        assert config.attributes["url"] == "postgresql+psycopg://tugi:p%40ss@db/tugi"


def _config(tmp_path: Path, url: str) -> Path:
    text = example_path().read_text(encoding="utf-8")
    assert 'url = "sqlite:///tugi.sqlite3"' in text
    path = tmp_path / "tugi.toml"
    path.write_text(text.replace('url = "sqlite:///tugi.sqlite3"', f'url = "{url}"'), encoding="utf-8")
    return path


def test_tugi_db_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "cli.sqlite3"
    config = str(_config(tmp_path, f"sqlite:///{database}"))
    assert main(["db", "current", "--config", config]) == 0
    assert "never migrated" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", config]) == 0
    assert f"at revision {migrate.head()}" in capsys.readouterr().out
    assert main(["db", "current", "--config", config]) == 0
    assert "up to date" in capsys.readouterr().out


def test_tugi_db_explains_an_unreachable_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path, f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.sqlite3'}"))
    assert main(["db", "upgrade", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "database.url" in err and "unable to open database file" in err


def test_tugi_db_needs_a_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["db", "upgrade"])
    assert "--config" in capsys.readouterr().err
