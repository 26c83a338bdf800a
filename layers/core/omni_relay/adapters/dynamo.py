"""The relay's own records in the idempotency table (Omni's budget, per-sender limits, what it knows
of recent jobs), read and written on every request: through aws_json (SigV4 over urllib3), as the
Slack replay check is, so the Slack command's path stays off boto3's import and client (a few hundred
ms of a cold start; tests/e2e/test_hot_path_imports.py). Where the role's credentials are not in the
environment (SnapStart), boto3's low-level client makes the same calls: DynamoDB's JSON shapes are its
own. Each call is sent once, never retried (a retried conditional write that had succeeded would answer
that it failed)."""

from __future__ import annotations

from typing import Any

from omni_relay.errors import DynamoError

TARGET = "DynamoDB_20120810"


def errors() -> tuple[type[Exception], ...]:
    return (DynamoError,)


def refused(exc: Exception) -> bool:
    """True when `exc` is a condition the call set and the table found false (not a failure)."""
    return isinstance(exc, DynamoError) and exc.code == "ConditionalCheckFailedException"


class DynamoClient:
    def __init__(self) -> None:
        self._boto: Any = None

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from omni_relay.adapters.aws_json import AwsJson
        from omni_relay.errors import AwsCallFailed

        api = AwsJson.from_env("dynamodb", TARGET)  # the environment as it is now (credentials, endpoint)
        if api is None:
            return self._boto_call(operation, params)
        try:
            return api.call(operation, params)
        except AwsCallFailed as exc:
            raise DynamoError(exc.code) from None

    def _boto_call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        import boto3  # only where the credentials are not in the environment
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        if self._boto is None:
            config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1})
            self._boto = boto3.client("dynamodb", config=config)
        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        try:
            return dict(getattr(self._boto, method)(**params))
        except ClientError as exc:
            error, item = exc.response.get("Error", {}), exc.response.get("Item")
            raise DynamoError(str(error.get("Code", "ClientError")), item if isinstance(item, dict) else None) from None
        except BotoCoreError as exc:
            raise DynamoError(type(exc).__name__) from None

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self.call("UpdateItem", params)


_client: DynamoClient | None = None


def client() -> DynamoClient:
    """The execution environment's client, made on first use."""
    global _client
    if _client is None:
        _client = DynamoClient()
    return _client
