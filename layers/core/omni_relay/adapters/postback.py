"""Posting results back to a caller (Slack response_url, callbacks) — only to allowed hosts.

https only, to hosts on the allow-list (hooks.slack.com by default, more from POSTBACK_HOSTS as
host or host:port). Plain http is accepted for this machine alone (127.0.0.1, or the host as a
`sam local` container sees it), and only when it is listed with its port: that is the local stack's
capture server, never a production target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from omni_relay.adapters.http_pool import shared_pool
from omni_relay.errors import PostBackRefused

# Slack's response_url host and the comment APIs with one public host; Jira and Zendesk sites
# (<org>.atlassian.net, <org>.zendesk.com) and the callback's host must be listed in POSTBACK_HOSTS.
DEFAULT_HOSTS = ("hooks.slack.com", "api.github.com", "api.linear.app", "api.pagerduty.com")


@dataclass(frozen=True)
class AllowedHosts:
    entries: frozenset[str]

    @classmethod
    def parse(cls, extra: str = "", defaults: Iterable[str] = DEFAULT_HOSTS) -> AllowedHosts:
        listed = {e.strip().lower() for e in extra.split(",") if e.strip()}
        return cls(frozenset(listed | set(defaults)))

    def allows(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if parts.username or parts.password or not host:
            return False
        if parts.scheme == "https":
            # A bare host entry means its default port; another port must be listed as host:port.
            return (port in (None, 443) and host in self.entries) or f"{host}:{port or 443}" in self.entries
        if parts.scheme == "http" and host in ("127.0.0.1", "host.docker.internal"):
            return f"{host}:{port or 80}" in self.entries
        return False


class PostBack:
    def __init__(self, allowed: AllowedHosts, http: urllib3.PoolManager | None = None, timeout: float = 5.0) -> None:
        self.allowed = allowed
        self._http = http or shared_pool()
        self._timeout = timeout

    def send(self, method: str, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> int:
        """Send a JSON `body`; returns the HTTP status. Raises PostBackRefused, or urllib3 errors on no answer."""
        if not self.allowed.allows(url):
            raise PostBackRefused(f"post-back host not allowed: {urlsplit(url).hostname or '?'}")
        response = self._http.request(
            method,
            url,
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=self._timeout,
            retries=urllib3.Retry(
                total=2,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=None,
                raise_on_status=False,  # after the retries, the last status is the answer (logged as such)
            ),
            redirect=False,
        )
        return response.status
