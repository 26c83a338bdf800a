"""One call to an AWS JSON-protocol API (DynamoDB), signed with Signature Version 4, over urllib3.

For the Slack hot path only, where the relay's one AWS call is Slack's replay check: importing boto3 and
making a client there costs ~170 ms of a cold start (the secrets extension exists to avoid exactly that).
It signs with the function's own role credentials as Lambda hands them over (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); where they are not in the environment (SnapStart gives a
credentials endpoint instead) `from_env` says so and the caller uses boto3. AWS_ENDPOINT_URL_DYNAMODB or
AWS_ENDPOINT_URL point it elsewhere, as they do boto3.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3

from omni_relay.errors import AwsCallFailed
from omni_relay.sources.signing import hmac_sha256


def sigv4_headers(
    *,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    region: str,
    service: str,
    credentials: tuple[str, str, str],
    now: float,
) -> dict[str, str]:
    """`headers` (names lower-cased) plus Host, X-Amz-Date, the session token and the SigV4 Authorization for
    a POST of `body` to `url` (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)."""
    key_id, secret, token = credentials
    parts = urlsplit(url)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-amz-date": stamp})
    if token:
        signed["x-amz-security-token"] = token
    names = ";".join(sorted(signed))
    canonical = "\n".join(
        [
            "POST",
            parts.path or "/",
            parts.query,
            "".join(f"{name}:{signed[name]}\n" for name in sorted(signed)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + secret).encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = hmac_sha256(key, part.encode())
    signature = hmac_sha256(key, to_sign.encode()).hex()
    authorization = f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={names}, Signature={signature}"
    return {**signed, "authorization": authorization}


class AwsJson:
    """Calls to one AWS JSON-protocol service (`target` is its X-Amz-Target prefix, e.g. DynamoDB_20120810)."""

    def __init__(
        self,
        service: str,
        target: str,
        endpoint: str,
        region: str,
        credentials: Callable[[], tuple[str, str, str]],
        *,
        http: urllib3.PoolManager | None = None,
        timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service, self.target, self.endpoint, self.region = service, target, endpoint.rstrip("/") + "/", region
        self._credentials = credentials
        self._http = http
        self._timeout = timeout
        self._clock = clock

    @classmethod
    def from_env(
        cls, service: str, target: str, env: Mapping[str, str] | None = None, *, timeout: float = 1.0
    ) -> AwsJson | None:
        """A client with the function's own credentials, or None when they are not in the environment."""
        env = os.environ if env is None else env
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        if not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY") and region):
            return None
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        endpoint = (
            env.get(f"AWS_ENDPOINT_URL_{service.upper()}")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://{service}.{region}.{suffix}"
        )

        def credentials() -> tuple[str, str, str]:  # read on each call, as Lambda may give new ones
            return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN", "")

        return cls(service, target, endpoint, region, credentials, timeout=timeout)

    def call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The operation's answer; AwsCallFailed for an error answer or none. Sent once, never retried:
        a retried conditional write that had succeeded would answer that it failed."""
        from omni_relay.adapters.http_pool import shared_pool

        body = json.dumps(payload).encode()
        headers = sigv4_headers(
            url=self.endpoint,
            body=body,
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"{self.target}.{operation}"},
            region=self.region,
            service=self.service,
            credentials=self._credentials(),
            now=self._clock(),
        )
        try:
            reply = (self._http or shared_pool()).request(
                "POST", self.endpoint, body=body, headers=headers, timeout=self._timeout, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise AwsCallFailed(type(exc).__name__) from None
        try:
            answer = json.loads(reply.data or b"{}")
        except ValueError:
            answer = {}
        if reply.status != 200:
            kind = str(answer.get("__type", "") if isinstance(answer, dict) else "") or f"HTTP {reply.status}"
            raise AwsCallFailed(kind.rsplit("#", 1)[-1], reply.status)
        return answer if isinstance(answer, dict) else {}


class Boto3Json:
    """The same calls through boto3, where the function's credentials are not in its environment."""

    def __init__(self, service: str, timeout: float = 1.0) -> None:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
        self._client: Any = boto3.client(service, config=config)  # type: ignore[call-overload]

    def call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        method = "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
        try:
            return dict(getattr(self._client, method)(**payload))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            raise AwsCallFailed(str(error.get("Code", "")), status) from None
        except BotoCoreError as exc:
            raise AwsCallFailed(type(exc).__name__) from None


def client(service: str, target: str, timeout: float = 1.0) -> AwsJson | Boto3Json:
    """Signed here without boto3 when the environment holds the function's credentials (as Lambda's
    does), else through boto3 (SnapStart hands a credentials endpoint instead)."""
    return AwsJson.from_env(service, target, timeout=timeout) or Boto3Json(service, timeout)


def transient(failure: AwsCallFailed) -> bool:
    """A failure worth one more attempt: no answer, throttling, or AWS's own side."""
    return failure.status == 0 or failure.status >= 500 or "Throttl" in failure.code
