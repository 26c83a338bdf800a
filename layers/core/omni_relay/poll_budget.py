"""How many follow-up status reads the workers may make a minute, all together: a share of Omni's
60 requests a minute per key, so following many jobs at once never crowds out people's cancels.

A fixed one-minute window counted atomically in DynamoDB (the idempotency table: one small item per
minute, expiring with the table's TTL), so the limit holds across every worker environment. When
DynamoDB cannot be reached, each environment falls back to counting on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from omni_relay.observability import count, logger

WINDOW_S = 60


class PollBudget(Protocol):
    def wait_s(self) -> float:
        """0.0 when a poll may be made now (and it is counted); else the seconds until one may."""
        ...

    def exhaust(self) -> None:
        """No more polls this minute: Omni answered 429, its limit is used (by people's cancels)."""
        ...


class LocalPollBudget:
    """The same fixed window, counted in this execution environment only."""

    def __init__(self, per_minute: int, now: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self._now = now
        self._window, self._used = -1, 0

    def wait_s(self) -> float:
        now = self._now()
        window = int(now // WINDOW_S)
        if window != self._window:
            self._window, self._used = window, 0
        if self._used >= self.per_minute:
            return (window + 1) * WINDOW_S - now
        self._used += 1
        return 0.0

    def exhaust(self) -> None:
        self._window, self._used = int(self._now() // WINDOW_S), self.per_minute


class DynamoPollBudget:
    def __init__(self, table_name: str, per_minute: int, now: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self.per_minute = per_minute
        self._now = now
        self._client: Any = None
        self._fallback = LocalPollBudget(per_minute, now)

    def _dynamodb(self) -> Any:
        import boto3  # the worker only
        from botocore.config import Config

        if self._client is None:
            config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
            self._client = boto3.client("dynamodb", config=config)
        return self._client

    def wait_s(self) -> float:
        from botocore.exceptions import BotoCoreError, ClientError

        now = self._now()
        window = int(now // WINDOW_S)
        try:
            self._update(
                window,
                "ADD polls :one SET #expires = :expires",
                "attribute_not_exists(polls) OR polls < :limit",
                one=1,
                limit=self.per_minute,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return (window + 1) * WINDOW_S - now
            return self._fall_back(type(exc).__name__)
        except BotoCoreError as exc:
            return self._fall_back(type(exc).__name__)
        return 0.0

    def exhaust(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        window = int(self._now() // WINDOW_S)
        self._fallback.exhaust()
        try:
            self._update(window, "SET polls = :limit, #expires = :expires", limit=self.per_minute)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not close this minute's poll budget", extra={"reason": type(exc).__name__})

    def _update(self, window: int, expression: str, condition: str = "", **values: int) -> None:
        """One atomic update of the minute's item, which expires with the table's TTL after the next minute."""
        numbers = {
            f":{name}": {"N": str(value)} for name, value in {**values, "expires": (window + 2) * WINDOW_S}.items()
        }
        self._dynamodb().update_item(
            TableName=self._table,
            Key={"id": {"S": f"omni-poll-budget#{window}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#expires": "expiration"},
            ExpressionAttributeValues=numbers,
            **({"ConditionExpression": condition} if condition else {}),
        )

    def _fall_back(self, reason: str) -> float:
        count("PollBudgetUnavailable")
        logger.warning("poll budget table unavailable: counting in this environment", extra={"reason": reason})
        return self._fallback.wait_s()


def default_poll_budget(table_name: str, per_minute: int) -> PollBudget:
    return DynamoPollBudget(table_name, per_minute) if table_name else LocalPollBudget(per_minute)
