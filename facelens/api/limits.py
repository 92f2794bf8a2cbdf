"""Per-account request budgets (a sliding minute, in memory)."""

from __future__ import annotations

import threading
import time
from collections import deque

from facelens.errors import FacelensError


class RateLimitedError(FacelensError):
    """Too many requests from one account."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[int, deque[float]] = {}

    def check(self, account_id: int, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(account_id, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= per_minute:
                retry = int(recent[0] + 60 - now) + 1
                raise RateLimitedError(
                    f"rate limit hit: {per_minute} requests a minute for this key "
                    f"(rate_limit_per_minute); retry in {retry} s",
                    retry,
                )
            recent.append(now)
