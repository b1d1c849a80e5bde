"""Per-key request rate, held in memory, and calendar months: the single-process (SQLite) gateway's own.

The window slides a second at a time, as the shared counters' does (gateway/shared_state.py): a key may
make `rpm` requests in any 60 consecutive seconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

WINDOW_S = 60


@dataclass
class _Window:
    seconds: deque[list[int]] = field(default_factory=deque)  # [second, requests], oldest first
    requests: int = 0


class RateLimiter:
    """Requests per key counted per second over the last minute."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def wait_s(self, name: str, rpm: int, now: float) -> float:
        """Counts one request and returns 0, or returns the seconds until one would be allowed."""
        window = self._windows.setdefault(name, _Window())
        second = math.floor(now)
        while window.seconds and window.seconds[0][0] <= second - WINDOW_S:
            window.requests -= window.seconds.popleft()[1]
        if window.requests >= rpm:
            return window.seconds[0][0] + WINDOW_S - now
        if window.seconds and window.seconds[-1][0] == second:
            window.seconds[-1][1] += 1
        else:
            window.seconds.append([second, 1])
        window.requests += 1
        return 0.0


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
