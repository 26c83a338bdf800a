"""A per-sender rate limit, so one noisy sender (or a loop in a webhook) is told to slow down by the
relay before Omni's own limit (60 requests a minute per key, shared by everyone on the org key) is hit.

A token bucket per sender, kept in the execution environment: a sender gets `per_minute` cancels
a minute, refilled continuously. Each warm environment counts on its own, so the effective limit
under concurrency is a multiple of it; API Gateway throttling (template) bounds the total.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_SENDERS = 10_000  # memory bound: the least recently seen senders are forgotten first


class SenderRateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # sender -> (tokens, at)

    def wait_s(self, sender: str) -> float:
        """0.0 and one token spent if `sender` may go ahead now; otherwise the seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        now, rate = self._clock(), self.per_minute / 60.0
        tokens, at = self._buckets.pop(sender, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[sender] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[sender] = (tokens, now)
            wait = (1.0 - tokens) / rate
        while len(self._buckets) > MAX_SENDERS:
            self._buckets.popitem(last=False)
        return wait
