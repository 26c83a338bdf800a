"""Omni AI jobs API client (cancel and status) over urllib3, bounded by the caller's deadline.

Retries 409 (concurrent modification), 429, 5xx and connection errors with exponential
backoff and full jitter, honouring Retry-After. POST is retried only because Omni
documents cancel as idempotent. urllib3's own Retry is not used: its waits and timeouts
are per attempt, and here every attempt and every wait must fit in one deadline.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import urllib3

from omni_relay.adapters.http_pool import USER_AGENT
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import OmniUnavailable

RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})
# Do not start an attempt with less time than this left: it could only time out.
MIN_ATTEMPT_S = 0.05


@dataclass(frozen=True)
class OmniReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    is_json: bool = True

    @property
    def message(self) -> str:
        """Omni's error text: the brief's spec says `message`, the published one `detail`."""
        value = self.body.get("detail") or self.body.get("message") or self.body.get("error") or ""
        return str(value)[:200]


# Asked before each retry of a call: 0.0 when it may be made (Omni's budget, omni_budget.py), else
# the seconds until it may; then the call answers with what it has.
Admit = Callable[[], float]


class OmniPort(Protocol):
    def cancel(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply: ...

    def status(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply: ...

    def find_user(self, email: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        """SCIM: the Omni users whose userName (email) is `email`."""
        ...

    def user(self, user_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        """SCIM: one Omni user by id (a job's userId)."""
        ...


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts "²" and other scripts' digits
        return min(float(value), 86400.0)
    try:
        return max(parsedate_to_datetime(value).timestamp() - now(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


try:  # Lambda SnapStart: environments restored from one snapshot would share random's state, and so
    # retry in step (the backoff jitter); reseed each one after its restore.
    from snapshot_restore_py import register_after_restore

    register_after_restore(random.seed)
except ImportError:  # not in a Lambda runtime (tests, the local stack)
    pass


class OmniClient:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        # Omni's own connection pool, not the shared PoolManager's: every call goes to this one origin,
        # so the manager's per-request URL parsing and pool look-up (a fifth of the relay's own time on
        # a warm Slack command) buys nothing, and its LRU could close a pool held here.
        url = urllib3.util.parse_url(base_url.rstrip("/"))
        self._prefix = url.path or ""
        self._pool = urllib3.connection_from_url(url.url, maxsize=4, block=False)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._jitter = jitter

    def cancel(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("POST", f"/v1/ai/jobs/{job_id}/cancel", token, deadline, admit)

    def status(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("GET", f"/v1/ai/jobs/{job_id}", token, deadline, admit)

    def find_user(self, email: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        query = urlencode({"filter": f'userName eq "{email}"', "count": "2"})
        return self._call("GET", f"/scim/v2/Users?{query}", token, deadline, admit)

    def user(self, user_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("GET", f"/scim/v2/Users/{quote(user_id, safe='')}", token, deadline, admit)

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS Architecture Blog): spreads retries of a burst over the window.
        return self._jitter() * min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))

    def _call(self, method: str, path: str, token: str, deadline: Deadline, admit: Admit | None) -> OmniReply:
        url = self._prefix + path
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT}
        last_reply: OmniReply | None = None
        last_error = "deadline reached before the first attempt"
        for attempt in range(1, self._max_attempts + 1):
            remaining = deadline.remaining()
            if remaining < MIN_ATTEMPT_S:
                break
            if attempt > 1 and admit is not None and admit():
                break  # a retry is a request too: Omni's budget for this key is spent
            timeout = urllib3.Timeout(
                connect=min(self._connect_timeout, remaining), read=min(self._read_timeout, remaining)
            )
            try:
                response = self._pool.urlopen(
                    method, url, headers=headers, timeout=timeout, retries=False, redirect=False
                )
            except urllib3.exceptions.HTTPError as exc:
                last_reply, last_error = None, type(exc).__name__
                wait = self._backoff(attempt)
            else:
                reply = _to_reply(response)
                if reply.status not in RETRYABLE:
                    return reply
                last_reply = reply
                wait = parse_retry_after(response.headers.get("Retry-After")) or self._backoff(attempt)
            if attempt == self._max_attempts or wait >= deadline.remaining() - MIN_ATTEMPT_S:
                break  # waiting would overrun the deadline: answer now with what we know
            self._sleep(wait)
        if last_reply is not None:
            return last_reply
        raise OmniUnavailable(last_error)


def _to_reply(response: urllib3.BaseHTTPResponse) -> OmniReply:
    try:
        body = json.loads(response.data or b"{}")
    except (ValueError, UnicodeDecodeError):
        return OmniReply(response.status, {}, is_json=False)
    if not isinstance(body, dict):
        return OmniReply(response.status, {}, is_json=False)
    return OmniReply(response.status, body)
