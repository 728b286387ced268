"""The `tugi` command: check and render configuration, run the engine, run a local PBX."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from config.loader import ConfigError, example_path, load_settings
from config.schema import Settings

EXIT_OK = 0
EXIT_BAD_CONFIG = 2
EXIT_FAILED = 1


def _load(path: str) -> Settings:
    return load_settings(path)


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = _load(args.file)
    from tugi.checks import warnings_for

    warnings = warnings_for(settings)
    for warning in warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    print(
        f"{args.file}: OK — shop {settings.shop.name!r}, {len(settings.staff)} staff,"
        f" {len(settings.masking.pool)} proxy numbers, time zone {settings.shop.timezone}"
    )
    return EXIT_OK


def cmd_config_example(args: argparse.Namespace) -> int:
    sys.stdout.write(example_path().read_text(encoding="utf-8"))
    return EXIT_OK


def cmd_asterisk_render(args: argparse.Namespace) -> int:
    from dialplans import render

    settings = _load(args.config)
    for path in render.write(settings, args.out):
        print(path)
    return EXIT_OK


def cmd_asterisk_up(args: argparse.Namespace) -> int:
    """Run a local Asterisk with this configuration in the foreground until Ctrl-C."""
    import signal
    import threading

    from tugi.local_asterisk import LocalAsterisk, ensure_root

    settings = _load(args.config)
    root = ensure_root()
    pbx = LocalAsterisk(settings, name=args.name, root=root)
    pbx.start()
    print(f"Asterisk is up (configuration in {pbx.etc}); Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if pbx.process is not None and pbx.process.poll() is not None:
                print("Asterisk exited:\n" + pbx.console_tail(), file=sys.stderr)
                return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    finally:
        pbx.stop()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tugi", description="Tugi contact-centre engine")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="check or print a configuration").add_subparsers(
        dest="action", required=True
    )
    check = config.add_parser("check", help="validate a configuration file")
    check.add_argument("file")
    check.set_defaults(func=cmd_config_check)
    example = config.add_parser("example", help="print the commented example configuration")
    example.set_defaults(func=cmd_config_example)

    asterisk = sub.add_parser("asterisk", help="Asterisk configuration and a local PBX").add_subparsers(
        dest="action", required=True
    )
    render = asterisk.add_parser("render", help="write the Asterisk files Tugi needs")
    render.add_argument("--config", required=True)
    render.add_argument("--out", required=True, type=Path)
    render.set_defaults(func=cmd_asterisk_render)
    up = asterisk.add_parser("up", help="run a local Asterisk 22 (Debian root, chroot) with this config")
    up.add_argument("--config", default=str(example_path()))
    up.add_argument("--name", default="local")
    up.set_defaults(func=cmd_asterisk_up)

    for extra in _extra_commands():
        extra(sub)
    return parser


def _extra_commands() -> list:
    """Sub-commands contributed by the other packages' CLI modules, wired here once."""
    from tugi import commands

    return commands.REGISTRARS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_CONFIG


if __name__ == "__main__":
    sys.exit(main())
