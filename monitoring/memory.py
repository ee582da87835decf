"""Returning the heap's free pages to the OS (the system poller does it on each beat).

glibc keeps freed heap pages; ``malloc_trim`` hands them back. The allocator settings that keep
the heap small in the first place are the serving process's (serving/memory.py). Where the C
library is not glibc these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def glibc(function: str):
    """A function of the C library, or None where it has none of that name (not glibc)."""
    return getattr(_libc(), function, None)


def release_free_memory() -> bool:
    """glibc's ``malloc_trim(0)``: free heap pages back to the OS. False where unavailable."""
    trim = glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True
