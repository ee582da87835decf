"""``@cached(region)`` for service functions whose first argument is the Runtime."""

from __future__ import annotations

import functools
from collections.abc import Callable

from config.cache import REGIONS


def cached(region: str) -> Callable:
    """Serve the function through the runtime's CacheManager (when it has one)."""
    if region not in REGIONS:
        raise ValueError(f"unknown cache region {region!r}")

    def decorate(fn: Callable) -> Callable:
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(runtime, *args, **kwargs):
            cache = getattr(runtime, "cache", None)
            if cache is None:
                return fn(runtime, *args, **kwargs)
            return cache.get_or_compute(region, name, args, kwargs, lambda: fn(runtime, *args, **kwargs))

        wrapper.uncached = fn  # type: ignore[attr-defined]
        return wrapper

    return decorate
