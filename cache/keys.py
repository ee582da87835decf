"""Cache keys: SHA-256 of sorted JSON of region, function, normalised arguments, data version
and the caller's scope. Never ``repr()`` of objects: only primitives reach the key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from contextvars import ContextVar

import orjson

ALL_STORES = "all"
# The set of stores the current user may see; "all" until authentication exists.
current_scope: ContextVar[str | tuple[int, ...]] = ContextVar("cache_scope", default=ALL_STORES)


def normalize(value):
    """Turn an argument into JSON primitives deterministically, or raise TypeError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: normalize(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(normalize(v) for v in value)
    raise TypeError(f"cannot build a cache key from {type(value).__name__}")


def scope_token(scope: str | tuple[int, ...]) -> str | list[int]:
    return scope if isinstance(scope, str) else sorted(int(s) for s in scope)


def make_key(region: str, function: str, args: tuple, kwargs: dict, version: int, scope) -> str:
    document = {
        "r": region,
        "f": function,
        "a": normalize(list(args)),
        "k": normalize(kwargs),
        "v": int(version),
        "s": scope_token(scope),
    }
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{region}:{digest}"
