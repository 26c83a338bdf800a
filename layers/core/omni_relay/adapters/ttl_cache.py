"""A bounded map whose entries expire: who someone is (ownership.py), a key this environment has seen
(dedupe.py). Kept in the execution environment; the oldest entries go first when it is full."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_MISSING = object()


class TtlCache:
    """Values kept for `max_age_s` (and at most `limit` of them, the oldest dropped first)."""

    def __init__(self, max_age_s: float, limit: int = 5000, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age_s = max_age_s
        self._limit = limit
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key) is not _MISSING

    def get(self, key: Hashable) -> Any:
        found = self._items.get(key)
        if found is None or self._clock() - found[0] > self._max_age_s:
            self._items.pop(key, None)
            return _MISSING
        return found[1]

    def put(self, key: Hashable, value: Any) -> Any:
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)
        return value

    def remember(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The kept value, else `compute()` kept; nothing is kept when it raises (failures are not cached)."""
        found = self.get(key)
        return self.put(key, compute()) if found is _MISSING else found
