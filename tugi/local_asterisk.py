"""A local Asterisk 22 for the demo and the tests: a Debian unstable root, run with chroot.

Debian's stable release has no Asterisk package and unstable does, so Tugi builds a minimal
unstable root once with debootstrap (about a minute) and keeps it in a cache outside the
project. Each run gets its own folder inside that root for configuration, spool, logs and the
control socket, so runs never see each other's state. The chroot shares the host's network:
Asterisk binds only the loopback addresses the rendered configuration names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from config.schema import Settings
from dialplans import render

log = logging.getLogger(__name__)

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm")
MARKER = ".tugi-root"
SUITE = "sid"


# Files Asterisk's core reads at boot that a fresh etc folder lacks; Tugi needs their defaults.
CORE_FILES = {
    "acl.conf": "",
    "udptl.conf": "[general]\n",
    "ccss.conf": "[general]\n",
    "pjproject.conf": "[startup]\ntype=startup\nlog_level=default\n",
    "musiconhold.conf": "[default]\nmode=files\ndirectory=moh\n",
    "queues.conf": "[general]\n",
    "indications.conf": (
        "[general]\ncountry=ee\n\n[ee]\ndescription=Estonia\nringcadence=1000,4000\n"
        "dial=425\nbusy=425/300,0/300\nring=425/1000,0/4000\ncongestion=425/200,0/200\n"
        "callwaiting=425/150,0/150,425/150,0/4000\ndialrecall=!425/100,!0/100,!425/100,!0/100,!425/100,0/100\n"
        "record=1400/500,0/15000\ninfo=950/330,1400/330,1800/330,0/1000\n"
    ),
}


class LocalAsteriskError(RuntimeError):
    """The local Asterisk could not be provisioned, started or stopped."""


def cache_dir() -> Path:
    return Path(os.environ.get("TUGI_CACHE", Path.home() / ".cache" / "tugi"))


def default_root() -> Path:
    return Path(os.environ.get("TUGI_ASTERISK_ROOT", cache_dir() / "asterisk-root"))


def debian_mirror() -> str:
    """The Debian archive this machine's apt already uses (never a hard-coded host)."""
    candidates: list[str] = []
    sources = Path("/etc/apt")
    for path in sorted(sources.glob("sources.list.d/*.sources")):
        candidates += re.findall(r"^URIs:\s*(\S+)", path.read_text(), flags=re.M)
    for path in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*.list"))]:
        if path.exists():
            candidates += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", path.read_text(), flags=re.M)
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise LocalAsteriskError(
        "no Debian archive found in /etc/apt/sources.list*; set TUGI_DEBIAN_MIRROR to one"
    )


def ensure_root(root: Path | None = None) -> Path:
    """Return a root with Asterisk installed, building it with debootstrap when missing."""
    root = root or default_root()
    marker = root / MARKER
    if marker.exists() and marker.read_text().split() == list(PACKAGES):
        return root
    if root.exists():
        log.info("the Asterisk root in %s is missing packages; rebuilding it", root)
    if os.geteuid() != 0:
        raise LocalAsteriskError("building the Asterisk root needs root (debootstrap, chroot)")
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise LocalAsteriskError("debootstrap is not installed: apt-get install debootstrap")
    mirror = os.environ.get("TUGI_DEBIAN_MIRROR") or debian_mirror()
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the Asterisk root in %s (Debian %s, about a minute)", root, SUITE)
    started = time.monotonic()
    result = subprocess.run(
        [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(partial), mirror],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not (partial / "usr/sbin/asterisk").exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise LocalAsteriskError(f"debootstrap failed ({result.returncode}):\n{tail}")
    (partial / MARKER).write_text("\n".join(PACKAGES) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    log.info("Asterisk root ready in %.0f s", time.monotonic() - started)
    return root


def _modules_dir(root: Path) -> str:
    for candidate in [*sorted(root.glob("usr/lib/*/asterisk/modules")), root / "usr/lib/asterisk/modules"]:
        if candidate.is_dir():
            return "/" + str(candidate.relative_to(root))
    raise LocalAsteriskError(f"no Asterisk modules directory in {root}")


class LocalAsterisk:
    """One Asterisk process in the root, configured from `settings`, in a folder of its own."""

    def __init__(self, settings: Settings, name: str = "default", root: Path | None = None) -> None:
        self.settings = settings
        self.root = root or default_root()
        self.inside = Path("/tugi-runs") / name
        self.dir = self.root / self.inside.relative_to("/")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def etc(self) -> Path:
        return self.dir / "etc"

    @property
    def cel_csv(self) -> Path:
        """Where cel_custom writes every CEL event (Tugi's source for reconciliation)."""
        return self.dir / "log" / "cel-custom" / "Master.csv"

    @property
    def log_file(self) -> Path:
        return self.dir / "log" / "messages"

    def write_config(self, extra: dict[str, str] | None = None) -> None:
        """Render Tugi's files plus asterisk.conf/logger.conf into this run's folder."""
        for sub in ("etc", "spool", "run", "log", "log/cel-custom", "lib", "lib/keys", "agi-bin"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        render.write(self.settings, self.etc)
        inside = self.inside
        (self.etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {inside}/etc\n"
            f"astmoddir => {_modules_dir(self.root)}\n"
            f"astvarlibdir => {inside}/lib\n"
            f"astdbdir => {inside}/lib\n"
            f"astkeydir => {inside}/lib\n"
            "astdatadir => /usr/share/asterisk\n"
            f"astagidir => {inside}/agi-bin\n"
            f"astspooldir => {inside}/spool\n"
            f"astrundir => {inside}/run\n"
            f"astlogdir => {inside}/log\n"
            "astsbindir => /usr/sbin\n"
            "\n[options]\n"
            "nocolor = yes\n"
            "hideconnect = yes\n"
            "transmit_silence = yes\n"
        )
        (self.etc / "logger.conf").write_text(
            "[general]\ndateformat=%F %T.%3q\n\n[logfiles]\nmessages => notice,warning,error,verbose(3)\n"
            "console => notice,warning,error\n"
        )
        for name, text in CORE_FILES.items():
            (self.etc / name).write_text(text)
        for name, text in (extra or {}).items():
            (self.etc / name).write_text(text)

    def start(self, timeout: float = 60.0, extra: dict[str, str] | None = None) -> None:
        """Start Asterisk in the foreground of a child process and wait until fully booted."""
        if self.process is not None:
            raise LocalAsteriskError("this Asterisk is already running")
        self.write_config(extra)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "log" / "console.log", "ab") as console:
            self.process = subprocess.Popen(
                [*self._asterisk(), "-f", "-n"],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalAsteriskError(f"Asterisk exited with {self.process.returncode}:\n{self.console_tail()}")
            if (self.dir / "run" / "asterisk.ctl").exists():
                try:
                    self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                    return
                except LocalAsteriskError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise LocalAsteriskError(f"Asterisk did not finish booting in {timeout:.0f} s:\n{self.console_tail()}")

    def _asterisk(self) -> list[str]:
        return ["chroot", str(self.root), "/usr/sbin/asterisk", "-C", f"{self.inside}/etc/asterisk.conf"]

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command over the control socket (`asterisk -rx`)."""
        try:
            result = subprocess.run(
                [*self._asterisk(), "-rx", command],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise LocalAsteriskError(f"CLI command {command!r} timed out") from None
        if result.returncode != 0:
            raise LocalAsteriskError(f"CLI command {command!r} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Asterisk, hard if it does not go quietly; never leave a process behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(LocalAsteriskError):
                self.cli("core stop now", timeout=5)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.process = None

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def console_tail(self, lines: int = 30) -> str:
        path = self.dir / "log" / "console.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"Asterisk root: {ensure_root()}")
