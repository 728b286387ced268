"""`tugi run` (the engine beside an existing Asterisk) and `tugi up` (with a local one)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from config.loader import example_path, load_settings


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run Tugi: AMI bridge, FastAGI and HTTP servers")
    run.add_argument("--config", required=True)
    run.set_defaults(func=cmd_run)
    up = sub.add_parser("up", help="run a local Asterisk and Tugi together (the demo on embedded defaults)")
    up.add_argument("--config", default=str(example_path()))
    up.set_defaults(func=cmd_up)


async def _serve(settings) -> None:
    from tugi.app import run_forever

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_forever(settings, stop)


def cmd_run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(load_settings(args.config)))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from tugi.local_asterisk import LocalAsterisk, ensure_root

    settings = load_settings(args.config)
    pbx = LocalAsterisk(settings, name="local", root=ensure_root())
    pbx.start()
    settings = settings.model_copy(
        update={"asterisk": settings.asterisk.model_copy(update={"cel_csv": str(pbx.cel_csv)})}
    )
    phones = None
    try:
        from tugi.demo import start_demo_phones

        phones = start_demo_phones(settings)
    except Exception as exc:  # the demo runs without its simulated phones rather than not at all
        print(f"(demo phones not started: {exc})", flush=True)
    print(f"Asterisk 22 is up: SIP on {settings.asterisk.sip_bind}:{settings.asterisk.sip_port}, "
          f"AMI on {settings.asterisk.ami_host}:{settings.asterisk.ami_port}", flush=True)
    http = settings.http
    print(f"Demo shop page: http://{http.host}:{http.port}/static/demo.html  — Ctrl-C stops everything", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings))
    finally:
        if phones is not None:
            phones.stop()
        pbx.stop()
    return 0
