"""Memory housekeeping: Arrow on the system allocator, glibc's free pages returned. The checks run
in a fresh interpreter (the project is installed in the venv, so it imports as it is)."""

from __future__ import annotations

import subprocess
import sys

from config import PROJECT_ROOT

SCRIPT = """
import numpy as np, psutil, pyarrow as pa
from monitoring.memory import release_free_memory
from serving.memory import use_system_allocator_for_arrow
assert pa.default_memory_pool().backend_name != "system"
use_system_allocator_for_arrow()
assert pa.default_memory_pool().backend_name == "system"
rss = lambda: psutil.Process().memory_info().rss
base = rss()
chunks = [bytearray(200_000) for _ in range(2000)]  # 400 MB of heap blocks below mmap's threshold
del chunks[:-1]
held = rss()
assert release_free_memory()
after = rss()
print(base >> 20, held >> 20, after >> 20)
assert held - after > 200 << 20, (base, held, after)
"""


def test_memory001_arrow_pool_and_trim_return_memory():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


FRAGMENTS = """
import psutil
from serving.memory import tune_malloc
if {tune}:
    assert tune_malloc()
rss = lambda: psutil.Process().memory_info().rss
big = bytearray(20 << 20)  # freed: glibc would now serve blocks below 20 MiB from the heap
del big
base = rss()
blocks = [bytearray(1 << 20) for _ in range(100)]  # 100 MiB of 1 MiB temporaries
del blocks[:-1]  # all but the last one freed: the heap cannot shrink below the survivor
print((rss() - base) >> 20)
"""


def _retained_mib(tune: bool) -> int:
    result = subprocess.run([sys.executable, "-c", FRAGMENTS.format(tune=tune)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return int(result.stdout.strip())


def test_memory002_large_temporaries_are_returned_at_once():
    """With the mmap threshold pinned, freed megabyte blocks leave the process; without it
    (glibc's dynamic threshold, raised by one large free) they stay behind as heap fragments."""
    assert _retained_mib(tune=False) > 60
    assert _retained_mib(tune=True) < 10


CONFIGURED = """
import dash._callback, dash.dash, pyarrow as pa
from serving import encoding
from serving.worker import configure_process
assert pa.default_memory_pool().backend_name != "system" and dash._callback.to_json is not encoding.to_json
configure_process()
assert pa.default_memory_pool().backend_name == "system"
assert dash._callback.to_json is encoding.to_json and dash.dash.to_json is encoding.to_json
"""


def test_memory003_a_serving_process_gets_its_allocator_and_encoder():
    """What the app factory used to set and every serving process now sets before its app."""
    result = subprocess.run([sys.executable, "-c", CONFIGURED], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
