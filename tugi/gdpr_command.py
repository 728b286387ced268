"""`tugi gdpr erase --customer ID`: remove a customer's numbers from masking and the history."""

from __future__ import annotations

import argparse
import re

from config.loader import load_settings

_CUSTOMER = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")


def register(sub: argparse._SubParsersAction) -> None:
    gdpr = sub.add_parser("gdpr", help="personal data").add_subparsers(dest="action", required=True)
    erase = gdpr.add_parser("erase", help="erase a customer's numbers; records stay, saying 'erased'")
    erase.add_argument("--config", required=True)
    erase.add_argument("--customer", required=True, help="the customer's id (as the shop knows it)")
    erase.set_defaults(func=cmd_erase)


def cmd_erase(args: argparse.Namespace) -> int:
    from history.migrate import upgrade
    from tugi.app import Engine

    if not _CUSTOMER.match(args.customer):
        print(f"error: --customer {args.customer!r} is not a customer id", flush=True)
        return 2
    settings = load_settings(args.config)
    upgrade(settings.database.url)
    engine = Engine(settings)
    try:
        in_history = engine.history.erase_customer(args.customer)
        sessions = engine.masking.erase_customer(args.customer) if engine.masking is not None else 0
    finally:
        engine.engine.dispose()
    print(f"customer {args.customer}: history {'erased' if in_history else 'had no record'}, "
          f"{sessions} masking session(s) erased")
    return 0
