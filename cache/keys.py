"""Cache keys: SHA-256 of sorted JSON of region, function, normalised arguments, data version,
database identity and the caller's scope. Never ``repr()`` of objects: only primitives reach
the key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from contextvars import ContextVar
from pathlib import Path

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


CODE_DIRS = ("analytics", "cache", "config", "db", "readmodel", "services")


def code_fingerprint(root: Path) -> str:
    """Hash of the code that computes cached values: a deploy that changes what a service returns
    must not be served values (from disk or Redis) that the previous code computed."""
    digest = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def make_key(region: str, function: str, args: tuple, kwargs: dict, version: int, scope, code: str = "",
             database: str = "") -> str:  # fmt: skip
    """``database``: the identity of the database the value is computed from (db.version), so
    two databases at the same data version never share a key in any tier."""
    document = {
        "c": code,
        "d": database,
        "r": region,
        "f": function,
        "a": normalize(list(args)),
        "k": normalize(kwargs),
        "v": int(version),
        "s": scope_token(scope),
    }
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{region}:{digest}"
