"""A per-sender rate limit, so one noisy sender (or a loop in a webhook) is told to slow down by the
relay before Omni's own limit (60 requests a minute per key, shared by everyone on the org key) is hit.

A sender (Requester.principal, the namespaced identity) gets `per_minute` requests in any 60 s,
counted across every execution environment (sliding_window.py, in the idempotency table). When the
table is out of reach, each environment counts on its own (a token bucket, refilled continuously).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from omni_relay.adapters.sliding_window import Window
from omni_relay.errors import WindowUnavailable
from omni_relay.observability import count, logger

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


MAX_NAME = 200  # a longer principal is counted under its digest (an item key is at most 2 KB)


class SharedSenderLimit:
    """The limit counted across environments; `window` None turns it off."""

    def __init__(self, window: Window | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._fallback = SenderRateLimit(window.limit if window else 0, clock)

    def wait_s(self, sender: str) -> float:
        """0.0 (and the request counted) if `sender` may go ahead now; otherwise the seconds until it may."""
        if self._window is None:
            return 0.0
        if len(sender) > MAX_NAME:
            import hashlib

            sender = "sha256:" + hashlib.sha256(sender.encode()).hexdigest()
        try:
            return self._window.take(sender)
        except WindowUnavailable as exc:
            count("SenderLimitUnavailable")
            logger.warning("per-sender limit table unavailable: counting here", extra={"reason": str(exc)})
            return self._fallback.wait_s(sender)
