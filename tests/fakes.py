"""In-memory fakes implementing the same interfaces as the real adapters (SecretStore, OmniPort)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from omni_relay.adapters.omni import Admit, OmniReply
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import OmniUnavailable, SecretsUnavailable


class FakeSecretStore:
    """Caches like the real stores: a value read once is served until a forced read (max_age never ends here)."""

    def __init__(self, values: dict[str, dict[str, Any]]) -> None:
        self.values = values
        self.reads: list[tuple[str, bool]] = []
        self.fail: str | None = None
        self._cache: dict[str, dict[str, Any]] = {}

    def get_json(self, secret_id: str, *, force: bool = False) -> dict[str, Any]:
        self.reads.append((secret_id, force))
        if self.fail:
            raise SecretsUnavailable(self.fail)
        if secret_id in self._cache and not force:
            return copy.deepcopy(self._cache[secret_id])
        if secret_id not in self.values:
            raise SecretsUnavailable(f"could not read secret {secret_id} (ResourceNotFoundException)")
        self._cache[secret_id] = copy.deepcopy(self.values[secret_id])
        return copy.deepcopy(self.values[secret_id])


class FakeOmni:
    """Answers from a script: a status code (and state) per call, or an exception."""

    def __init__(self, answer: Callable[[str, str, str], OmniReply] | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.answer = answer or (lambda op, job, token: OmniReply(200, {"jobId": job, "state": "CANCELLED"}))

    @property
    def cancels(self) -> list[tuple[str, str, str]]:
        """The cancel calls only (a cancel is followed by a status read for the job's details when time allows)."""
        return [call for call in self.calls if call[0] == "cancel"]

    def _call(self, op: str, job_id: str, token: str) -> OmniReply:
        self.calls.append((op, job_id, token))
        return self.answer(op, job_id, token)

    # `admit` is asked before a retry; these answers are never retried.
    def cancel(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("cancel", job_id, token)

    def status(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("status", job_id, token)

    def find_user(self, email: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("find_user", email, token)

    def user(self, user_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._call("user", user_id, token)


def unavailable(op: str, job: str, token: str) -> OmniReply:
    raise OmniUnavailable("ConnectTimeoutError")


class RecordingHttp:
    """Stands in for urllib3.PoolManager under PostBack: records each request, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, url: str, body: bytes = b"", headers: dict | None = None, **_: Any) -> Any:
        import json
        from types import SimpleNamespace

        self.requests.append(
            {
                "method": method,
                "url": url,
                "headers": dict(headers or {}),
                "raw": body,
                "body": json.loads(body) if body else None,
            }
        )
        return SimpleNamespace(status=self.status)


class MemoryDedupe:
    """The Deduplicator interface in memory: an action per key runs once, repeats get its result; a key
    is seen first once. Several Runtimes given one of these share it, as execution environments share the table."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.ttls: dict[str, int | None] = {}
        self.seen: dict[str, int] = {}

    def first_sight(self, key: str, ttl_s: int) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = ttl_s
        return True

    def register_lambda_context(self, context: Any) -> None:
        return None

    def once(self, key: str, action: Callable[[], dict[str, Any]], ttl_s: int | None = None) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = action()
            self.ttls[key] = ttl_s
        return copy.deepcopy(self.results[key])


class FakeUnfurler:
    """The SlackUnfurlPort interface (chat.unfurl) in memory: records each call, fails when `error` is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = ""

    def unfurl(self, target: dict[str, str], unfurls: dict[str, Any], token: str, deadline: Deadline) -> None:
        from omni_relay.errors import UnfurlFailed

        self.calls.append({"target": dict(target), "unfurls": copy.deepcopy(unfurls), "token": token})
        if self.error:
            raise UnfurlFailed(self.error)


class MemoryAudit:
    """The AuditLog interface in memory: the table and its three indexes, newest first as DynamoDB's
    Query with ScanIndexForward=False answers. `fail` makes every call fail as the table would."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = ""

    def _check(self) -> None:
        from omni_relay.errors import AwsCallFailed

        if self.fail:
            raise AwsCallFailed(self.fail)

    def put(self, record: dict[str, Any]) -> None:
        self._check()
        self.records.append(copy.deepcopy(record))

    def _newest(self, keep: Callable[[dict[str, Any]], bool], limit: int) -> list[Any]:
        from omni_relay.usecases.audit import Entry

        self._check()
        found = sorted((r for r in self.records if keep(r)), key=lambda r: r["id"], reverse=True)
        return [Entry(copy.deepcopy(r)) for r in found[:limit]]

    def for_job(self, job_id: str, limit: int) -> list[Any]:
        return self._newest(lambda r: r["job_id"] == job_id, limit)

    def by(self, index: str, value: str, limit: int) -> list[Any]:
        key = {
            "principal": lambda r: r["requester"]["principal"],
            "owner": lambda r: r.get("owner"),
            "day": lambda r: r["at"][:10],
        }[index]
        return self._newest(lambda r: key(r) == value, limit)


class MemoryQueue:
    """The TaskQueue interface in memory: every task sent, with its delay, in order; `fail` makes sending fail."""

    def __init__(self, fail: str = "") -> None:
        self.sent: list[tuple[Any, int]] = []
        self.retries: list[tuple[str, int]] = []
        self.fail = fail

    @property
    def tasks(self) -> list[Any]:
        return [task for task, _ in self.sent]

    def send(self, task: Any, delay_s: int = 0) -> None:
        from omni_relay.errors import QueueFailed

        if self.fail:
            raise QueueFailed(self.fail)
        self.sent.append((task, delay_s))

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        self.retries.append((receipt_handle, seconds))


class ManualClock:
    """A wall clock the test sets: `clock.now = ...`; called as time.time is."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
