"""`tugi gdpr erase` removes a customer's numbers from masking and the history (SQLite file)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from tests.support.shop import TEST_SHOP_TOML
from tugi.app import Engine
from tugi.cli import main

CUSTOMER = "+37255500002"


def test_erase_leaves_no_trace_of_the_number(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TUGI_DATA", str(tmp_path / "data"))
    db = tmp_path / "shop.sqlite3"
    config = tmp_path / "shop.toml"
    config.write_text(TEST_SHOP_TOML.replace('url = "sqlite:///:memory:"', f'url = "sqlite:///{db}"'))
    assert main(["db", "upgrade", "--config", str(config)]) == 0

    from config.loader import load_settings

    engine = Engine(load_settings(config))
    engine.history.add_customer("cust-7", "Kati", phones=[CUSTOMER])
    engine.masking.open_session(
        order_ref="o-1", customer_ref="cust-7", customer_number=CUSTOMER,
        courier_ref="c-1", courier_number="+37255500001", ttl=timedelta(hours=1),
    )
    engine.engine.dispose()

    def traces() -> tuple[int, int]:
        with sqlite3.connect(db) as con:
            sealed = con.execute(
                "SELECT count(*) FROM masking_session WHERE customer_number IS NOT NULL OR customer_index IS NOT NULL"
            ).fetchone()[0]
            contacts = con.execute("SELECT count(*) FROM contact_point WHERE customer_id = 'cust-7'").fetchone()[0]
        return sealed, contacts

    assert traces() == (1, 1)
    assert main(["gdpr", "erase", "--config", str(config), "--customer", "cust-7"]) == 0
    assert traces() == (0, 0)
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert CUSTOMER.lstrip("+") not in dump
    assert "erased" in dump
    assert main(["gdpr", "erase", "--config", str(config), "--customer", "bad\nid"]) == 2
