"""Acting once per request as the requester sees it, in every execution environment: records in the
idempotency table (DynamoDB), which all of them share. The one mechanism behind every repeat check:

- `once(key, action)`: Powertools idempotency. The first run's result answers every repeat within the
  TTL without running the action again: a webhook's signed body (a resent delivery gets the first
  answer), a Slack button's click, a worker's task and each follow-up poll.
- `first_sight(key, ttl_s)`: a conditional write of the key alone (its first writer wins, in any
  environment): Slack's signatures, since Slack never sends a command twice and a second sight is a
  replay to refuse, not to answer. One PutItem, signed without boto3 on Slack's hot path (aws_json.py).

If DynamoDB cannot be reached the relay fails OPEN: it acts anyway, because a cancel is idempotent at
Omni, so the worst case is a second post, while failing closed would drop a cancel someone asked for
(a signature is still refused when this environment has seen it). Both cases are logged and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from omni_relay.adapters.ttl_cache import TtlCache
from omni_relay.errors import AlreadyInProgress
from omni_relay.observability import count, logger

Result = dict[str, Any]
SEEN_LIMIT = 10_000  # keys this environment remembers having seen (the oldest go first)


class Deduplicator(Protocol):
    def once(self, key: str, action: Callable[[], Result], ttl_s: int | None = None) -> Result:
        """`action`'s result, run once per `key` within `ttl_s` (the store's default when None)."""
        ...

    def first_sight(self, key: str, ttl_s: int) -> bool:
        """True for the first request to present `key` within `ttl_s`, in any environment; False after."""
        ...

    def register_lambda_context(self, context: Any) -> None: ...


class _SeenHere:
    """The keys this execution environment has seen: answers a repeat to the same environment at once."""

    def __init__(self) -> None:
        self._seen: dict[int, TtlCache] = {}

    def first(self, key: str, ttl_s: int) -> bool:
        seen = self._seen.setdefault(ttl_s, TtlCache(ttl_s, SEEN_LIMIT))
        if key in seen:
            return False
        seen.put(key, True)
        return True


class NoDedupe:
    """No table (IDEMPOTENCY_TABLE unset): every action runs; a key is seen first once per environment."""

    def __init__(self) -> None:
        self._here = _SeenHere()

    def register_lambda_context(self, context: Any) -> None:
        return None

    def once(self, key: str, action: Callable[[], Result], ttl_s: int | None = None) -> Result:
        return action()

    def first_sight(self, key: str, ttl_s: int) -> bool:
        return self._here.first(key, ttl_s)


class DynamoDedupe:
    def __init__(self, table_name: str, ttl_s: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._ttl_s = ttl_s
        self._clock = clock
        # One persistence layer per record lifetime: Powertools configures a layer once, TTL included.
        self._stores: dict[int, tuple[Any, Any]] = {}
        self._context: Any = None
        self._here = _SeenHere()
        self._claims: Any = None  # an AwsJson client, or boto3's when the environment has no credentials

    def register_lambda_context(self, context: Any) -> None:
        """In-progress records then expire with the invocation, as Powertools recommends."""
        self._context = context
        for _, config in self._stores.values():
            config.register_lambda_context(context)

    def first_sight(self, key: str, ttl_s: int) -> bool:
        if not self._here.first(key, ttl_s):
            return False
        now = int(self._clock())
        request = {
            "TableName": self._table,
            "Item": {"id": {"S": key}, "expiration": {"N": str(now + ttl_s)}},  # the table's TTL attribute
            # First writer wins; a record past its TTL that DynamoDB has not removed yet counts as gone.
            "ConditionExpression": "attribute_not_exists(id) OR expiration < :now",
            "ExpressionAttributeValues": {":now": {"N": str(now)}},
        }
        try:
            self._put_item(request)
        except _ConditionFailed:
            return False
        except Exception as exc:  # any failure of the store (no answer, refused, throttled): fail open
            count("DedupeUnavailable")
            logger.warning("de-duplication store unavailable: failing open", extra={"reason": type(exc).__name__})
        return True

    def _put_item(self, request: dict[str, Any]) -> None:
        from omni_relay.adapters.aws_json import AwsJson
        from omni_relay.errors import AwsCallFailed

        if self._claims is None:
            self._claims = AwsJson.from_env("dynamodb", "DynamoDB_20120810") or _Boto3Claims()
        try:
            self._claims.call("PutItem", request)
        except AwsCallFailed as exc:
            if exc.code == "ConditionalCheckFailedException":
                raise _ConditionFailed from None
            raise

    def once(self, key: str, action: Callable[[], Result], ttl_s: int | None = None) -> Result:
        # Imported on first use: idempotency pulls in boto3.
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
        )
        from botocore.config import Config

        ttl = max(ttl_s or self._ttl_s, self._ttl_s)
        if ttl not in self._stores:
            layer = DynamoDBPersistenceLayer(
                table_name=self._table,
                boto_config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2}),
            )
            config = IdempotencyConfig(expires_after_seconds=ttl)
            if self._context is not None:
                config.register_lambda_context(self._context)
            self._stores[ttl] = (layer, config)
        layer, config = self._stores[ttl]
        ran: list[Result] = []

        # Decorated per call (cheap) so concurrent calls never share an action.
        @idempotent_function(data_keyword_argument="key", persistence_store=layer, config=config)
        def run(key: str) -> Result:
            ran.append(action())
            return ran[0]

        try:
            return dict(run(key=key))
        except IdempotencyAlreadyInProgressError:
            raise AlreadyInProgress(key) from None
        except IdempotencyPersistenceLayerError as exc:
            count("DedupeUnavailable")
            logger.warning("de-duplication store unavailable: failing open", extra={"reason": type(exc).__name__})
            return ran[0] if ran else action()


class _ConditionFailed(Exception):
    """Someone, in some environment, wrote the key first."""


class _Boto3Claims:
    """The same PutItem through boto3, where the function's credentials are not in its environment."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1})
        self._client = boto3.client("dynamodb", config=config)

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        from omni_relay.errors import AwsCallFailed

        try:
            return dict(self._client.put_item(**request))
        except ClientError as exc:
            raise AwsCallFailed(str(exc.response.get("Error", {}).get("Code", "")), 400) from None


def default_dedupe(table_name: str) -> Deduplicator:
    return DynamoDedupe(table_name) if table_name else NoDedupe()
