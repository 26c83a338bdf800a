"""The local stack's small HTTP servers: their shared life cycle on 127.0.0.1 (LoopbackServer), and
writing one HTTP response from a BaseHTTPRequestHandler."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Self, cast

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


class LoopbackServer:
    """A ThreadingHTTPServer (`_server`, set by the subclass) served from a daemon thread: start() and
    stop(), or a with-block."""

    _server: ThreadingHTTPServer
    thread_name = "local-server"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> Self:
        # TCP_NODELAY: a reply's headers and body go out as two writes, and with Nagle's algorithm the
        # body waits for the client's delayed ACK of the headers, 40 ms on loopback, on every reply
        # after a connection's first. AWS, Omni and Slack add no such stall; neither may their stand-ins.
        cast("type[StreamRequestHandler]", self._server.RequestHandlerClass).disable_nagle_algorithm = True
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
