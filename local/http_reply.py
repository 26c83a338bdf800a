"""Writing one HTTP response from a BaseHTTPRequestHandler, for the local stack's small servers."""

from __future__ import annotations

from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

# Set by the server for the bytes it writes; never copied from an upstream or a function's reply.
_OWN_HEADERS = ("content-length", "transfer-encoding", "connection", "date", "server")


def send_reply(handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes) -> int:
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in _OWN_HEADERS:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    return status
