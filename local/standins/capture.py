"""A capture server on 127.0.0.1: stands in for Slack's response_url, the vendors' comment APIs and
the callback receiver, and records every JSON body sent to it (with its method and headers)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.cloud.http_reply import LoopbackServer


class CaptureServer(LoopbackServer):
    thread_name = "capture"

    def __init__(
        self,
        status: int = 200,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_post: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = status
        self._changed = threading.Condition()
        capture = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_PUT(self) -> None:  # noqa: N802
                self.do_POST()

            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(data)
                except ValueError:
                    body = {"raw": data.decode("utf-8", "replace")}
                with capture._changed:
                    post = {
                        "path": self.path,
                        "method": self.command,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "raw": data,
                        "body": body,
                        "at": time.monotonic(),
                    }
                    capture.posts.append(post)
                    capture._changed.notify_all()
                if on_post:
                    on_post(post)
                self.send_response(capture.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str = "/response") -> str:
        return f"http://{self.host}{path}"

    def wait_for(self, path: str, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """The bodies posted to `path`, once there are `count` of them (or what there is at `timeout`)."""
        return [r["body"] for r in self.wait_for_requests(path, timeout, count)]

    def wait_for_requests(self, path: str, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """The requests (path, method, headers, raw, body) sent to `path`, as wait_for."""
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [p for p in self.posts if p["path"] == path]
                if len(found) >= count or time.monotonic() >= end:
                    return found
                self._changed.wait(max(end - time.monotonic(), 0.01))
