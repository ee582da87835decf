"""Four-tier cache: in-process LRU → Flask-Caching disk → Redis → database."""

from cache.decorator import cached
from cache.keys import current_scope, make_key
from cache.manager import CacheManager

__all__ = ["CacheManager", "cached", "current_scope", "make_key"]
