"""Reading the relay's secrets (JSON objects) from AWS Secrets Manager.

Two adapters behind one interface:
- PowertoolsSecretStore: Powertools parameters (boto3), with its max_age cache.
- ExtensionSecretStore: the AWS Parameters and Secrets Lambda Extension on localhost, which
  keeps boto3 off the cold path; any failure there falls back to Powertools.
Errors never carry a secret's value, only its id and what was wrong.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import urllib3

from omni_relay.adapters.http_pool import shared_pool
from omni_relay.errors import SecretsUnavailable


class SecretStore(Protocol):
    def get_json(self, secret_id: str, *, force: bool = False) -> dict[str, Any]: ...


def _as_object(secret_id: str, raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise SecretsUnavailable(f"secret {secret_id} is not JSON") from None
    if not isinstance(value, dict):
        raise SecretsUnavailable(f"secret {secret_id} is not a JSON object")
    return value


class PowertoolsSecretStore:
    def __init__(self, max_age: int = 300) -> None:
        self._max_age = max_age

    def get_json(self, secret_id: str, *, force: bool = False) -> dict[str, Any]:
        # Imported here: Powertools parameters pulls in boto3 (~200 ms), which the
        # extension path never needs.
        from aws_lambda_powertools.utilities import parameters

        try:
            raw = parameters.get_secret(secret_id, max_age=self._max_age, force_fetch=force)
        except parameters.exceptions.GetParameterError as exc:
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "error"
            raise SecretsUnavailable(f"could not read secret {secret_id} ({cause})") from None
        return _as_object(secret_id, raw if isinstance(raw, str) else None)


class ExtensionSecretStore:
    """Secrets via the Parameters and Secrets Lambda Extension (HTTP on localhost:<port>)."""

    def __init__(
        self,
        port: int,
        fallback: SecretStore,
        *,
        max_age: int = 300,
        http: urllib3.PoolManager | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 1.0,
    ) -> None:
        self._url = f"http://localhost:{port}/secretsmanager/get?secretId="
        self._fallback = fallback
        self._max_age = max_age
        self._http = http or shared_pool()
        self._clock = clock
        self._timeout = timeout
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def get_json(self, secret_id: str, *, force: bool = False) -> dict[str, Any]:
        if force:
            # The extension would answer from its own cache: after a rotation ask Secrets Manager itself.
            value = self._fallback.get_json(secret_id, force=True)
        else:
            cached = self._cache.get(secret_id)
            if cached and self._clock() - cached[0] < self._max_age:
                return cached[1]
            value = self._fetch(secret_id)
        self._cache[secret_id] = (self._clock(), value)
        return value

    def _fetch(self, secret_id: str) -> dict[str, Any]:
        headers = {"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")}
        try:
            response = self._http.request(
                "GET", self._url + quote(secret_id, safe=""), headers=headers, timeout=self._timeout, retries=False
            )
        except urllib3.exceptions.HTTPError:
            return self._fallback.get_json(secret_id)
        if response.status != 200:
            return self._fallback.get_json(secret_id)
        try:
            envelope = json.loads(response.data)
        except ValueError:
            return self._fallback.get_json(secret_id)
        return _as_object(secret_id, envelope.get("SecretString") if isinstance(envelope, dict) else None)


def default_store(max_age: int, extension_port: int | None) -> SecretStore:
    powertools = PowertoolsSecretStore(max_age)
    if extension_port:
        return ExtensionSecretStore(extension_port, powertools, max_age=max_age)
    return powertools
