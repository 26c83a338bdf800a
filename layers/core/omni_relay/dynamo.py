"""The relay's own records in the idempotency table (Omni's budget, per-sender limits, what it knows
of recent jobs), read and written on every request: DynamoDB's JSON API over urllib3, signed with
SigV4 from the function's role credentials (its environment, as Lambda gives them).

Not boto3: these calls are on the Slack command's path, which boto3's import (and its client's
model loading, a few hundred ms of a cold start) stays off (tests/e2e/test_hot_path_imports.py).
The calls are the ones boto3 makes (same targets, parameters and answers), with short timeouts and
one retry, so a slow table costs a request little.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3

from omni_relay.outbound import USER_AGENT, shared_pool

TIMEOUT = urllib3.Timeout(connect=1.0, read=1.0)
RETRYABLE = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"})


class DynamoError(Exception):
    """A call the table did not answer with success: `code` is DynamoDB's error type (or the
    transport's), and `response` holds it as boto3's ClientError does ({"Error": {"Code"}}, "Item")."""

    def __init__(self, code: str, message: str = "", item: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}"[:300])
        self.code = code
        self.response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
        if item is not None:
            self.response["Item"] = item


def errors() -> tuple[type[Exception], ...]:
    return (DynamoError,)


def refused(exc: Exception) -> bool:
    """True when `exc` is a condition the call set and the table found false (not a failure)."""
    return isinstance(exc, DynamoError) and exc.code == "ConditionalCheckFailedException"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode(), "sha256")


class DynamoClient:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # The live environment by default: SnapStart puts fresh credentials in it after a restore.
        self._env = os.environ if env is None else env

    @property
    def region(self) -> str:
        return self._env.get("AWS_REGION") or self._env.get("AWS_DEFAULT_REGION") or "us-east-1"

    @property
    def url(self) -> str:
        # AWS_ENDPOINT_URL as boto3 reads it (the local stack's moto; empty in AWS).
        endpoint = self._env.get("AWS_ENDPOINT_URL_DYNAMODB") or self._env.get("AWS_ENDPOINT_URL") or ""
        return endpoint.rstrip("/") + "/" if endpoint else f"https://dynamodb.{self.region}.amazonaws.com/"

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body, url = json.dumps(params).encode(), self.url
        for attempt in (1, 2):
            try:
                response = shared_pool().request(
                    "POST",
                    url,
                    body=body,
                    headers=self._signed(operation, body, url),
                    timeout=TIMEOUT,
                    retries=False,
                    redirect=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                if attempt == 2:
                    raise DynamoError(type(exc).__name__) from None
                continue
            try:
                answer = json.loads(response.data or b"{}")
            except ValueError:
                answer = {}
            if response.status == 200 and isinstance(answer, dict):
                return answer
            answer = answer if isinstance(answer, dict) else {}
            code = str(answer.get("__type", f"HTTP{response.status}")).rsplit("#", 1)[-1]
            if attempt == 1 and (code in RETRYABLE or response.status >= 500):
                continue
            raise DynamoError(code, str(answer.get("message") or answer.get("Message") or ""), answer.get("Item"))
        raise DynamoError("Unreachable")  # pragma: no cover (the loop returns or raises)

    def _signed(self, operation: str, body: bytes, url: str) -> dict[str, str]:
        """SigV4 headers for one call (AWS General Reference, "Create a signed AWS API request")."""
        names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        key, secret, token = (self._env.get(name, "") for name in names)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        day = stamp[:8]
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "host": urlsplit(url).netloc,
            "x-amz-date": stamp,
            "x-amz-target": f"DynamoDB_20120810.{operation}",
        }
        if token:
            headers["x-amz-security-token"] = token
        signed = sorted(headers)
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                *(f"{n}:{headers[n]}" for n in signed),
                "",
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        region = self.region
        scope = f"{day}/{region}/dynamodb/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signing = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), "dynamodb"), "aws4_request")
        signature = hmac.new(signing, to_sign.encode(), "sha256").hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
        headers["user-agent"] = USER_AGENT
        return headers

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
