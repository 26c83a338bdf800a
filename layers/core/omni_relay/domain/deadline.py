"""A caller's deadline, measured from when the request arrived at API Gateway, not when we woke up."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    def __init__(self, at: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._at = at
        self._clock = clock

    @classmethod
    def within(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def from_arrival(
        cls,
        arrival_epoch_ms: int | None,
        budget_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> Deadline:
        """Budget counted from API Gateway's requestContext.timeEpoch, so a cold start eats into it."""
        elapsed = 0.0
        if arrival_epoch_ms:
            # Clamp: a skewed clock must neither extend the budget nor erase it entirely.
            elapsed = min(max(wall() - arrival_epoch_ms / 1000.0, 0.0), budget_s)
        return cls(clock() + budget_s - elapsed, clock)

    def remaining(self) -> float:
        return max(self._at - self._clock(), 0.0)


def budget_s(caller_deadline_s: float, margin_s: float, *, reserved_s: float = 0.0) -> float:
    """The time Omni gets within a caller's deadline: less a safety margin and what is kept back to
    reply, hand the cancel off, or comment."""
    return caller_deadline_s - margin_s - reserved_s
