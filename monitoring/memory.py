"""Keeping the process's resident memory close to what it uses.

Two allocators hold on to memory they no longer need: Arrow's default pool (mimalloc) keeps
what every Arrow IPC encode/decode and CSV read freed (~80 MB after loading the pieces of 100
stores × 90 days), and glibc keeps freed heap pages in one arena per thread (up to 8 per core).
The app factory switches Arrow to the system allocator and caps glibc at two arenas (before
the server's threads start); the system poller returns glibc's free pages to the OS on each
beat (``malloc_trim``). Where the C library is not glibc these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2


def use_system_allocator_for_arrow() -> None:
    """Arrow allocates with malloc/free, so freed buffers go back like the rest of the heap."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _glibc(function: str):
    return getattr(_libc(), function, None)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Threads share ``arenas`` glibc arenas instead of one each (the fragmented free memory of
    eight request threads was most of the growth under load). False where unavailable."""
    mallopt = _glibc("mallopt")
    return bool(mallopt and mallopt(M_ARENA_MAX, arenas) == 1)


def release_free_memory() -> bool:
    """glibc's ``malloc_trim(0)``: free heap pages back to the OS. False where unavailable."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True
