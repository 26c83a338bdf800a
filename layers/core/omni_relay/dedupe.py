"""Acting once per request as the requester sees it: Powertools idempotency on DynamoDB.

Keyed on what identifies a request (a Slack action's ts, a task's request id), never on the
raw body. A repeat within the TTL gets the first run's result without running it again.
If DynamoDB cannot be reached the relay fails OPEN: it runs the action anyway, because a
cancel is idempotent at Omni, so the worst case is a second post, while failing closed would
drop a cancel someone asked for. Both cases are logged and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from omni_relay.observability import count, logger

Result = dict[str, Any]


class Deduplicator(Protocol):
    def once(self, key: str, action: Callable[[], Result], ttl_s: int | None = None) -> Result:
        """`action`'s result, run once per `key` within `ttl_s` (the store's default when None)."""
        ...

    def register_lambda_context(self, context: Any) -> None: ...


class NoDedupe:
    def register_lambda_context(self, context: Any) -> None:
        return None

    def once(self, key: str, action: Callable[[], Result], ttl_s: int | None = None) -> Result:
        return action()


class AlreadyInProgress(Exception):
    """The same request is being handled right now (a concurrent duplicate)."""


class DynamoDedupe:
    def __init__(self, table_name: str, ttl_s: int = 3600) -> None:
        self._table = table_name
        self._ttl_s = ttl_s
        # One persistence layer per record lifetime: Powertools configures a layer once, TTL included.
        self._stores: dict[int, tuple[Any, Any]] = {}
        self._context: Any = None

    def register_lambda_context(self, context: Any) -> None:
        """In-progress records then expire with the invocation, as Powertools recommends."""
        self._context = context
        for _, config in self._stores.values():
            config.register_lambda_context(context)

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


def default_dedupe(table_name: str) -> Deduplicator:
    return DynamoDedupe(table_name) if table_name else NoDedupe()
