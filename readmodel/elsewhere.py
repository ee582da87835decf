"""Tables too big to load inside a serving process are loaded by a child process
(``python -m readmodel.loader``): the COPY text, the Arrow table, the float frame and the chain
table's sort are alive together for a moment (2.5–2.9 GB for the 11.5 M-row product table), and
a serving process would keep that peak as its resident size. The child writes the table files
(``readmodel.store``) and exits; the serving process maps them like any other worker's file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

log = logging.getLogger(__name__)

START_ALLOWANCE_S = 60.0  # the child's own start (imports) and the file writing, beyond the load bound


def write_elsewhere(job: dict, load_timeout_s: float) -> bool:
    """Run the loader child on ``job`` (``readmodel.loader.run``'s fields); whether it exited
    cleanly. Its output goes to this process's log; a failure only logs (the caller then loads
    the table itself)."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "readmodel.loader"], input=json.dumps(job).encode(),
                              capture_output=True, timeout=load_timeout_s + START_ALLOWANCE_S, env=env,
                              check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("table loader for %s: %s; loading here", job["tables"], exc)
        return False
    output = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        log.warning("table loader for %s exited %s; loading here: %s", job["tables"], done.returncode, output[-2000:])
        return False
    log.info("table loader wrote %s in %.1f s", job["tables"], time.monotonic() - started)
    return True
