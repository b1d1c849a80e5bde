"""Per-key request rate and calendar months, held in memory: one gateway process owns its keys' counters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key: a full minute's requests may burst, then they refill evenly."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def wait_s(self, name: str, rpm: int, now: float) -> float:
        """Takes one request and returns 0, or returns the seconds until one would be allowed."""
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(float(rpm), now)
        refill_per_s = rpm / 60.0
        bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.at) * refill_per_s)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / refill_per_s


def month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def seconds_to_next_month(now: datetime) -> int:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return max(1, math.ceil((following - now).total_seconds()))
