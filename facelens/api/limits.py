"""Request budgets (a sliding minute, in memory): per account, and per client address for
requests without an account (no key, a wrong key, a failed sign-in)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable

from facelens.errors import RateLimitedError

#: Past this many tracked callers, those with nothing in the last minute are forgotten.
_PRUNE_ABOVE = 10_000


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[Hashable, deque[float]] = {}

    def _window(self, key: Hashable, now: float) -> deque[float]:
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        return recent

    def check(self, account_id: int, per_minute: int) -> None:
        """Count a request of the account; refuses it past ``per_minute``."""
        now = time.monotonic()
        with self._lock:
            recent = self._window(account_id, now)
            if len(recent) >= per_minute:
                retry = int(recent[0] + 60 - now) + 1
                raise RateLimitedError(
                    f"rate limit hit: {per_minute} requests a minute for this key "
                    f"(rate_limit_per_minute); retry in {retry} s",
                    retry,
                )
            recent.append(now)

    def retry_after(self, key: Hashable, per_minute: int) -> int | None:
        """Seconds until ``key`` may make a request again; None when it may now."""
        now = time.monotonic()
        with self._lock:
            recent = self._window(key, now)
            if len(recent) < per_minute:
                return None
            return int(recent[0] + 60 - now) + 1

    def record(self, key: Hashable) -> None:
        """Count a request of ``key`` (checked beforehand with ``retry_after``)."""
        now = time.monotonic()
        with self._lock:
            if len(self._recent) > _PRUNE_ABOVE:
                for stale in [k for k, r in self._recent.items() if not r or r[-1] <= now - 60]:
                    del self._recent[stale]
            self._window(key, now).append(now)


class AnonymousTally:
    """Requests without an account, counted per client address and minute: one audit entry
    each (written once the minute is over), not one per request, so a flood cannot fill the
    log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (address, minute start as epoch seconds) -> {"METHOD /route status": count}
        self._counts: dict[tuple[str, int], dict[str, int]] = {}

    def add(self, address: str, request: str, status: int) -> None:
        minute = int(time.time()) // 60 * 60
        with self._lock:
            counts = self._counts.setdefault((address, minute), {})
            label = f"{request} {status}"
            counts[label] = counts.get(label, 0) + 1

    def take(self, *, everything: bool = False) -> list[tuple[str, int, dict[str, int]]]:
        """The tallies of minutes that are over (``everything``: also the current one), as
        (address, minute, counts), removed from the tally."""
        current = int(time.time()) // 60 * 60
        with self._lock:
            done = [key for key in self._counts if everything or key[1] < current]
            return [
                (address, minute, self._counts.pop((address, minute))) for address, minute in done
            ]
