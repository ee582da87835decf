"""Memory housekeeping: Arrow on the system allocator, glibc's free pages returned."""

from __future__ import annotations

import subprocess
import sys

from config import PROJECT_ROOT

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import numpy as np, psutil, pyarrow as pa
from monitoring.memory import release_free_memory, use_system_allocator_for_arrow
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
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(PROJECT_ROOT))], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
