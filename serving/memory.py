"""Allocator settings of a serving process: keeping its resident memory close to what it uses.

Two allocators hold on to memory they no longer need: Arrow's default pool (mimalloc) keeps
what every Arrow IPC encode/decode and CSV read freed (~80 MB after loading the pieces of 100
stores × 90 days), and glibc keeps freed heap pages in one arena per thread (up to 8 per core).
Each serving process switches Arrow to the system allocator and caps glibc at two arenas (before
the server's threads start) and pins glibc's mmap threshold at its initial 128 KiB: glibc
otherwise raises it (up to 32 MiB) each time a large block is freed, after which the
multi-megabyte numpy temporaries of assembling a view come from the heap and stay there as
fragments (50 users: peak per worker 487 → 410 MB). The system poller returns glibc's free
pages to the OS on each beat (``monitoring.memory.release_free_memory``). Where the C library is
not glibc these are no-ops.
"""

from __future__ import annotations

from monitoring.memory import glibc

M_ARENA_MAX = -8  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
MALLOC_ARENAS = 2
MMAP_THRESHOLD = 128 * 1024  # blocks this large are mapped and unmapped on their own


def use_system_allocator_for_arrow() -> None:
    """Arrow allocates with malloc/free, so freed buffers go back like the rest of the heap."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Threads share ``arenas`` glibc arenas instead of one each (the fragmented free memory of
    eight request threads was most of the growth under load), and blocks of ``mmap_threshold``
    bytes or more always get their own mapping, returned to the OS when freed. False where
    unavailable."""
    mallopt = glibc("mallopt")
    if not mallopt:
        return False
    return mallopt(M_ARENA_MAX, arenas) == 1 and mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
