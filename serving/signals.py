"""Stop signals of the serving processes: SIGINT / SIGTERM stop once, later ones are ignored."""

from __future__ import annotations

import signal


def stop_on_first_signal() -> None:
    """SIGINT / SIGTERM stop like Ctrl+C once; any later one is ignored.

    Ctrl+C reaches every process of the console and the supervisor then sends SIGTERM too: a
    second KeyboardInterrupt would cut Waitress's wait for the requests in progress short, and a
    request finishing after its server closed writes to a closed trigger (EBADF, a traceback).
    """

    def first(_signum, _frame):
        ignore_stop_signals()
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, first)


def ignore_stop_signals() -> None:
    # A Python no-op rather than SIG_IGN: a signal already delivered but not yet handled would
    # find SIG_IGN and raise "OSError: Signal 15 ignored due to race condition" instead.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)


def _ignore(_signum, _frame) -> None:
    pass
