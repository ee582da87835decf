"""A background loop that starts on demand and stops cleanly (shared by the samplers)."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Subclasses implement ``_run`` and wait on ``self._stop`` between rounds."""

    thread_name = "sampler"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _before_start(self) -> None:
        """Hook run in the caller's thread just before the loop starts."""

    def start(self) -> None:
        if self._thread is not None:
            return
        self._before_start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
