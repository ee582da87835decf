"""Cache regions and their time-to-live per tier (seconds).

Keys carry the data version, so an import never needs TTLs to expire for freshness: the TTLs
only bound how long unused entries occupy memory, disk and Redis. Reference data (store and
channel lists) changes only with imports and lives longest; figures a user explores
(kpis, diagnosis, products, timeseries) stay hot in memory for minutes and on disk / in
Redis for an hour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionTTL:
    l1: int
    l2: int
    l3: int


REGIONS: dict[str, RegionTTL] = {
    "kpis": RegionTTL(l1=300, l2=3600, l3=3600),
    "diagnosis": RegionTTL(l1=300, l2=3600, l3=3600),
    "products": RegionTTL(l1=300, l2=3600, l3=3600),
    "timeseries": RegionTTL(l1=300, l2=3600, l3=3600),
    "reference": RegionTTL(l1=600, l2=86400, l3=86400),
}

# Circuit breaker of the Redis tier: open after this many consecutive failures, retry after.
BREAKER_FAILURES = 3
BREAKER_COOLDOWN_S = 30.0
# Cross-process single flight: lock lifetime and how long others wait for the value.
LOCK_TTL_MS = 10_000
LOCK_WAIT_S = 2.0
LOCK_POLL_S = 0.05
# Redis key prefix (one Redis may serve several installations: change per site if shared).
REDIS_PREFIX = "o2o:"
