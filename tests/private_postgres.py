"""A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port, data in a temporary
directory), which the test may freeze (SIGSTOP), thaw and stop, never touching the shared server.

The cluster runs as the ``postgres`` user (``runuser``), so the tests must run as root or as
``postgres``; otherwise, or without the server binaries, the test is skipped (or fails in CI).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from tests.live_server import free_port

POSTGRES_USER = "postgres"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """``start`` → ``url`` (database ``postgres``, trust on 127.0.0.1), ``freeze`` / ``thaw``
    every process of the cluster, ``stop`` (thaws first) removes the data directory."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        """``settings``: server settings (``-c name=value``) in place of the test defaults
        (fsync off …); the benchmarks start a cluster tuned as a site would tune it."""
        self.settings = settings
        self.bin = _binaries()
        self.port = free_port()
        self.dir: Path | None = None
        self.frozen: list[psutil.Process] = []

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def unavailable_reason(self) -> str | None:
        if self.bin is None:
            return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) not installed"
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            return "no postgres user to run a private cluster"
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != POSTGRES_USER:
            return "a private PostgreSQL cluster needs root (runuser) or the postgres user"
        return None

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True, cwd=self.dir)

    def start(self) -> None:
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="o2o-pg-"))  # not under pytest's 0700 tmp
            shutil.chown(self.dir, POSTGRES_USER, POSTGRES_USER)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")  # fmt: skip
        settings = self.settings or {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {name}={value}" for name, value in settings.items()
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w",
                  "-t", "60", "start", timeout=90)  # fmt: skip

    def processes(self) -> list[psutil.Process]:
        """The postmaster and all its children (backends, checkpointer, walwriter ...)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: the kernel still accepts and ACKs connections,
        nothing answers them."""
        self.frozen = self.processes()
        for process in self.frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for process in self.frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
        self.frozen = []

    def stop(self) -> None:
        self.thaw()
        if self.dir is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=45)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def log_tail(self, chars: int = 2000) -> str:
        path = self.dir / "server.log" if self.dir else None
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""
