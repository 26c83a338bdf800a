"""At most `limit` events of one name (an Omni key, a sender) in any 60 seconds, counted across every
execution environment of both functions.

A ring of `limit` slots in one DynamoDB item (the idempotency table, expiring with its TTL): an event
claims a slot whose last event is more than 60 s old, with that condition on the slot, so no slot holds
two events within a minute and no more than `limit` events happen in any 60 s, however many
environments race (two would have to share a slot). The slot is chosen from the ring as this
environment last saw it (a free one at random, so racing environments rarely collide); a stale view
costs only a refused condition, which hands back the ring as it is.
A sliding minute, not a calendar one: Omni may count either way, and this never exceeds it in either.

`reserve` keeps that many slots free for other callers: the Omni budget's priorities (omni_budget.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from omni_relay.adapters import dynamo
from omni_relay.adapters.ttl_cache import TtlCache
from omni_relay.errors import WindowUnavailable

WINDOW_S = 60.0
MAX_TRIES = 8  # claims refused because another environment took the slot first
MAX_NAMES = 10_000  # memory bound of each environment's view of the rings
FRESH_S = 0.25  # how long ago a ring may have been read to judge a reserve (a priority; the limit is the condition's)


class Window(Protocol):
    limit: int

    def take(self, name: str, reserve: int = 0) -> float:
        """0.0 and one event counted when `name` may have one now, leaving `reserve` slots free;
        else the seconds until it may (nothing counted). WindowUnavailable when the count is out of reach."""
        ...


def decide(ring: Sequence[float], now: float, reserve: int = 0) -> tuple[int, float]:
    """(the slot to claim, 0.0) when more than `reserve` slots are free at `now`; else (-1, the seconds
    until enough of the events in the ring are a minute old)."""
    cutoff = now - WINDOW_S
    recent = sorted(at for at in ring if at > cutoff)
    free = len(ring) - len(recent)
    if free > reserve:
        # Any free slot will do: a random one, so environments taking at once rarely pick the same.
        return random.choice([i for i, at in enumerate(ring) if at <= cutoff]), 0.0  # noqa: S311 (spreading)
    return -1, max(recent[min(reserve - free, len(recent) - 1)] - cutoff, 0.01)


class LocalWindow:
    """The same ring, kept in this execution environment only (no table configured, and unit tests)."""

    def __init__(self, limit: int, now: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._now = now
        self._rings = TtlCache(WINDOW_S, MAX_NAMES, now)

    def take(self, name: str, reserve: int = 0) -> float:
        ring = self._rings.remember(name, lambda: [0.0] * self.limit)
        now = self._now()
        slot, wait = decide(ring, now, reserve)
        if slot >= 0:
            ring[slot] = now
            self._rings.put(name, ring)  # kept while it is in use
        return wait


class DynamoWindow:
    def __init__(self, table: str, prefix: str, limit: int, now: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._table = table
        self._prefix = prefix
        self._now = now
        self._seen = TtlCache(WINDOW_S, MAX_NAMES, now)  # name -> (the ring as last seen here, when read)

    def take(self, name: str, reserve: int = 0) -> float:
        key = {"id": {"S": f"{self._prefix}#{self.limit}#{name}"}}
        try:
            seen = self._seen.get(name)
            ring, read_at = seen if isinstance(seen, tuple) else (None, 0.0)
            # A claim needs no read first (a stale or missing view costs a refused condition, which answers
            # with the ring); a reserve is judged on the ring as read from the table a moment ago at most.
            fresh = False
            if reserve and self._now() - read_at > FRESH_S:
                ring, read_at, fresh = self._read(key), self._now(), True
            for _ in range(MAX_TRIES):
                now = self._now()
                slot, wait = decide(ring or [0.0] * self.limit, now, reserve)
                if slot < 0 and not fresh:
                    ring, read_at, fresh = self._read(key), now, True
                    continue
                if slot < 0:
                    self._seen.put(name, (ring, read_at))
                    return wait
                current = self._claim(key, ring, slot, now)
                if current is None:
                    claimed = list(ring or [0.0] * self.limit)
                    claimed[slot] = now
                    self._seen.put(name, (claimed, read_at))  # as fresh as what it was read from
                    return 0.0
                ring, read_at, fresh = current, now, True
        except dynamo.errors() as exc:
            raise WindowUnavailable(type(exc).__name__) from None
        return 1.0  # every claim lost a race: try again in a second

    def _read(self, key: dict[str, Any]) -> list[float] | None:
        """The ring as the table has it now; None when there is no item yet."""
        item = dynamo.client().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return self._ring(item)

    def _ring(self, item: dict[str, Any] | None) -> list[float] | None:
        calls = (item or {}).get("calls", {}).get("L")
        if not isinstance(calls, list) or len(calls) != self.limit:
            return None
        return [float(value.get("N", 0)) for value in calls]

    def _claim(self, key: dict[str, Any], ring: list[float] | None, slot: int, now: float) -> list[float] | None:
        """Write `now` in `slot` if no other environment wrote it in the last minute: None when done,
        else the ring as it is (the claim refused)."""
        table = dynamo.client()
        expires = {"N": str(int(now + 2 * WINDOW_S))}
        try:
            if ring is None:  # the first event of this name (for a while): the ring is created
                calls = [0.0] * self.limit
                calls[slot] = now
                table.put_item(
                    TableName=self._table,
                    Item={**key, "calls": {"L": [{"N": repr(at)} for at in calls]}, "expiration": expires},
                    ConditionExpression="attribute_not_exists(id)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            else:
                table.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=f"SET calls[{slot}] = :now, #expires = :expires",
                    ConditionExpression=f"calls[{slot}] <= :cutoff",
                    ExpressionAttributeNames={"#expires": "expiration"},
                    ExpressionAttributeValues={
                        ":now": {"N": repr(now)},
                        ":cutoff": {"N": repr(now - WINDOW_S)},
                        ":expires": expires,
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except dynamo.errors() as exc:
            if not dynamo.refused(exc):
                raise
            current = self._ring(getattr(exc, "response", {}).get("Item"))
            return current if current is not None else (self._read(key) or [0.0] * self.limit)
        return None


def shared_window(table: str, prefix: str, limit: int, now: Callable[[], float] = time.time) -> Window:
    return DynamoWindow(table, prefix, limit, now) if table else LocalWindow(limit, now)
