"""prometheus_client's multiprocess mode: on in the workers of a multi-process instance.

The launcher of several workers sets ``PROMETHEUS_MULTIPROC_DIR`` before it starts them
(``monitoring.workers.share_metrics``); prometheus_client then keeps every metric value of
each worker in memory-mapped files there, and /metrics merges them. Unset (one process: the
debug launcher, ``O2O_WORKERS=1``, an app in a test) every figure is the process's own.
"""

from __future__ import annotations

import os
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def shared_metrics_dir() -> Path | None:
    """The directory the instance's workers share their metrics in, or None (one process)."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None
