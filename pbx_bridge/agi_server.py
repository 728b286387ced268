"""A FastAGI server: Asterisk connects per `AGI(agi://host:port/script,args)`, Tugi answers.

panoramisk's `fast_agi.Application` routes by script name but breaks on Python 3.11 with plain
functions and wants `loop=`; the server loop is small, so it lives here, and each connection
reuses panoramisk's `Request.send_command` and result parser for the command exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from panoramisk.fast_agi import Request

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'["\\\r\n\x00]')


class AgiError(Exception):
    pass


@dataclass
class AgiCall:
    """One AGI request: the `agi_*` environment, and commands back to the channel."""

    env: dict[str, str]
    request: Request

    @property
    def script(self) -> str:
        return self.env.get("agi_network_script", "").split("?")[0].strip("/")

    @property
    def args(self) -> list[str]:
        out = []
        index = 1
        while f"agi_arg_{index}" in self.env:
            out.append(self.env[f"agi_arg_{index}"])
            index += 1
        return out

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    async def command(self, text: str) -> dict:
        result = await self.request.send_command(text)
        if "error" in result:
            raise AgiError(f"{text.split(' ')[0]}: {result.get('msg', result['error'])}")
        return result

    async def get(self, name: str) -> str:
        """A channel variable or function value; empty when unset."""
        result = await self.command(f"GET FULL VARIABLE ${{{name}}}")
        code, value = result.get("result", ("0", ""))
        return value if code == "1" else ""

    async def set(self, name: str, value: str | int) -> None:
        text = str(value)
        if _UNSAFE.search(text):
            raise AgiError(f"refusing to set {name}: the value contains a quote, backslash or line break")
        await self.command(f'SET VARIABLE {name} "{text}"')


Handler = Callable[[AgiCall], Awaitable[None]]


class AgiServer:
    def __init__(self, host: str, port: int, request_timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self._routes: dict[str, Handler] = {}
        self._server: asyncio.Server | None = None
        self.requests = 0
        self.failures = 0

    def route(self, script: str, handler: Handler) -> None:
        self._routes[script] = handler

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when asked for port 0
        log.info("FastAGI listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            env = await asyncio.wait_for(self._read_env(reader), self.request_timeout)
            call = AgiCall(env, Request(None, env, reader, writer))
            handler = self._routes.get(call.script)
            if handler is None:
                log.warning("FastAGI: no handler for script %r", call.script)
                self.failures += 1
                return
            await asyncio.wait_for(handler(call), self.request_timeout)
        except (TimeoutError, AgiError, ConnectionError, asyncio.IncompleteReadError) as exc:
            # The dialplan sees AGISTATUS=FAILURE/HANGUP and runs its failsafe: never a dead call.
            self.failures += 1
            log.warning("FastAGI request failed: %s", exc or type(exc).__name__)
        except Exception:
            self.failures += 1
            log.exception("FastAGI handler crashed")
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read_env(reader: asyncio.StreamReader) -> dict[str, str]:
        env: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return env
            if ":" in line:
                key, value = line.split(":", 1)
                env[key.strip()] = value.strip()
