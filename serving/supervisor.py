"""Several serving processes on one socket, supervised.

One Python process runs one thread at a time (the GIL), so on a machine with several cores a
single Waitress process tops out at one core however many threads it has. With workers > 1 the
launcher binds the listening socket itself and starts that many worker processes (the ``spawn``
start method, the same on Windows and POSIX; the socket is handed over by ``multiprocessing``),
each a full app with its own Waitress threads, L1 cache and samplers, all sharing L2 (disk) and
L3 (Redis). The kernel spreads new connections over the workers. The supervisor watches them:
a worker that dies is started again (given up after RESTART_LIMIT quick deaths in a row), and
Ctrl+C / SIGTERM stops them all (SIGTERM, then killed after STOP_TIMEOUT_S). Only worker 0 runs
the cache warmer; the others read what it writes to the shared tiers.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from multiprocessing.connection import wait

from config import Settings
from monitoring.workers import share_metrics, worker_died
from serving.signals import ignore_stop_signals
from serving.worker import STOP_TIMEOUT_S, worker_main

RESTART_LIMIT = 3  # a worker that dies this many times in a row within QUICK_DEATH_S: give up
QUICK_DEATH_S = 30.0
LISTEN_BACKLOG = 1024


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (address reuse as Waitress does it on POSIX)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let another program take the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Starts, restarts and stops the worker processes (see the module docstring)."""

    def __init__(self, settings: Settings, sock: socket.socket, say=print) -> None:
        self.settings = settings
        self.sock = sock
        self.say = say
        self._context = multiprocessing.get_context("spawn")
        self.workers: dict[int, multiprocessing.process.BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._quick_deaths: dict[int, int] = {}

    def start(self) -> None:
        share_metrics(self.settings.data_dir, self.settings.port)  # before the workers: they inherit it
        for index in range(self.settings.workers):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        process = self._context.Process(target=worker_main, args=(self.settings, self.sock, index),
                                        name=f"o2o-worker-{index}", daemon=False)  # fmt: skip
        process.start()
        self.workers[index] = process
        self._started[index] = time.monotonic()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.workers.values() if p.pid is not None]

    def run(self) -> int:
        """Watch the workers until Ctrl+C / SIGTERM (returns 0) or one keeps dying (returns 1)."""
        try:
            while True:
                sentinels = {p.sentinel: i for i, p in self.workers.items()}
                for ready in wait(list(sentinels), timeout=1.0):
                    index = sentinels[ready]
                    process = self.workers[index]
                    process.join()
                    worker_died(process.pid)  # its gauges leave /metrics, its counters stay
                    lived = time.monotonic() - self._started[index]
                    deaths = self._quick_deaths.get(index, 0) + 1 if lived < QUICK_DEATH_S else 0
                    self._quick_deaths[index] = deaths
                    if deaths >= RESTART_LIMIT:
                        self.say("❌", f"工作进程 {index} (pid {process.pid}) 连续 {deaths} 次启动后很快退出 "
                                       f"(退出码 {process.exitcode}), 停止服务")  # fmt: skip
                        return 1
                    self.say("⚠️", f"工作进程 {index} (pid {process.pid}) 退出 (退出码 {process.exitcode}), 重新启动")
                    self._spawn(index)
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        """SIGTERM every worker, kill those still alive after STOP_TIMEOUT_S."""
        ignore_stop_signals()
        for process in self.workers.values():
            if process.is_alive():
                process.terminate()  # SIGTERM on POSIX, TerminateProcess on Windows
        # The workers close their copies as their drain begins: with this one closed too, a new
        # connection is refused at once instead of waiting in the backlog to be reset.
        self.sock.close()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
