"""The AWS Parameters and Secrets Lambda Extension's HTTP interface on 127.0.0.1, for the benchmark
and the local stack: GET /secretsmanager/get?secretId=<id> with X-Aws-Parameters-Secrets-Token,
answered from Secrets Manager (moto server here) and cached for ttl seconds, as the extension does.
It runs outside the function's process, as the real extension does (a separate process in Lambda)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.cloud.http_reply import LoopbackServer, send_reply


class SecretsExtension(LoopbackServer):
    thread_name = "secrets-extension"

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        *,
        token: str,
        ttl_s: float = 300,
        port: int = 0,
        credentials: tuple[str, str] | None = None,  # the function's (access key, secret key); token is its session
    ) -> None:
        import boto3

        key, secret = credentials or (None, None)
        client = boto3.client(
            "secretsmanager",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token if credentials else None,
        )
        cache: dict[str, tuple[float, bytes]] = {}
        lock = threading.Lock()

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                secret_id = (parse_qs(parts.query).get("secretId") or [""])[0]
                if self.headers.get("X-Aws-Parameters-Secrets-Token") != token:
                    return self._send(401, b'{"message": "missing or wrong X-Aws-Parameters-Secrets-Token"}')
                if parts.path != "/secretsmanager/get" or not secret_id:
                    return self._send(400, b'{"message": "secretId is required"}')
                with lock:
                    hit = cache.get(secret_id)
                if hit and time.monotonic() - hit[0] < ttl_s:
                    return self._send(200, hit[1])
                try:
                    value = client.get_secret_value(SecretId=secret_id)
                except client.exceptions.ResourceNotFoundException:
                    return self._send(404, b'{"message": "secret not found"}')
                body = json.dumps({"Name": value["Name"], "SecretString": value.get("SecretString")}).encode()
                with lock:
                    cache[secret_id] = (time.monotonic(), body)
                return self._send(200, body)

            def _send(self, status: int, body: bytes) -> None:
                send_reply(self, status, {"Content-Type": "application/json"}, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
