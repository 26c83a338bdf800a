"""HTTP -> Lambda: serves the template's HttpApi routes on 127.0.0.1 the way API Gateway HTTP API
calls a function (payload format 2.0 events, route key and path parameters); a path the template does
not route is a 404, as in AWS. Unit tests use http_api_event and LambdaContext to call a handler
in-process."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.cloud.http_reply import LoopbackServer, send_reply
from local.cloud.sam_template import Route

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]  # (function logical id, event) -> its result
# API Gateway HTTP APIs pass these content types as text; everything else arrives base64-encoded.
_TEXT_TYPES = ("application/json", "text/", "application/xml")


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler, as far as Powertools reads it."""

    function_name: str = "omni-cancel-relay-local"
    memory_limit_in_mb: int = 256
    timeout_s: float = 10.0
    aws_request_id: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def http_api_event(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    arrival_ms: int | None = None,
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event, as the service builds it for a route."""
    parts = urlsplit(target)
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        # HTTP API joins repeated headers with commas.
        lowered[key.lower()] = f"{lowered[key.lower()]},{value}" if key.lower() in lowered else value
    content_type = lowered.get("content-type", "")
    as_text = any(content_type.startswith(t) for t in _TEXT_TYPES)
    if as_text:
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    else:
        text, encoded = base64.b64encode(body).decode(), True
    now_ms = arrival_ms if arrival_ms is not None else int(time.time() * 1000)
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": encoded,
    }
    if body:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = path_parameters
    if parts.query:
        event["queryStringParameters"] = {k: v for k, _, v in (p.partition("=") for p in parts.query.split("&"))}
    return event


class NoResult(Exception):
    """The function returned nothing (null) where API Gateway needs a response."""


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """The HTTP response API Gateway makes of a payload 2.0 function's result: a response object as
    it is; other JSON as a 200 with that JSON for body (as the service infers it); no result fails."""
    if result is None:
        raise NoResult("the function returned no result (null)")
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    payload = result.get("body") or ""
    data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
    return int(result.get("statusCode", 200)), result.get("headers") or {}, data


class Gateway(LoopbackServer):
    """Serves `routes` on http://<host>:<port>: one event per request to the route's function."""

    thread_name = "gateway"

    def __init__(
        self,
        routes: Sequence[Route],
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body: int = 10 * 1024 * 1024,
        on_request: Callable[[str, str, int, float], None] | None = None,
        on_error: Callable[[str, Exception], None] | None = None,
    ):
        gateway = self

        class _Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response (no delayed-ACK stall)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                started, arrival = time.monotonic(), int(time.time() * 1000)
                status = self._route(arrival)
                if on_request:
                    on_request(self.command, self.path, status, time.monotonic() - started)

            def _route(self, arrival: int) -> int:
                length = int(self.headers.get("Content-Length") or 0)
                if length > max_body:  # API Gateway's own 10 MB payload limit
                    return self._write(
                        413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}'
                    )
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                for route in routes:
                    if (params := route.match(self.command, path)) is not None:
                        break
                else:  # what an HTTP API answers for a route it does not have
                    return self._write(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
                event = http_api_event(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    arrival_ms=arrival,
                    route_key=route.route_key,
                    path_parameters=params,
                )
                try:
                    result = gateway.invoke(route.function, event)
                    status, headers, data = _response(result)
                except Exception as exc:  # what API Gateway answers when the function fails
                    if on_error:  # the stack records it: a test that saw it fails
                        on_error(route.function, exc)
                    return self._write(
                        500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
                    )
                return self._write(status, headers, data)

            def _write(self, status: int, headers: dict[str, str], data: bytes) -> int:
                return send_reply(self, status, headers, data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        self.invoke = invoke
        self.host = host
        self._server = ThreadingHTTPServer((host, port), _Request)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
