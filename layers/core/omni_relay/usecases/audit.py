"""A record of every decision: each cancel, refusal and status the relay or the worker answered.

With the org key Omni's `cancelledBy` names the key's creator, never the person who asked; the relay
is the only place that knows who stopped a job, from where and why. Each decision becomes one record
of a documented, versioned shape (SCHEMA; docs/audit.md), stored in the audit table
with a TTL (AuditRetentionDays) and written as one structured log line ("decision recorded", the
record under `audit`) that the Logs Insights queries of docs/audit.md read. Never a secret: ids, the
outcome, Omni's state and status line, a reason the requester typed; no reply URL, no token.

Table: job_id (hash) + id (range: "<ISO time>#<request>", so newest sorts last); indexes by
principal, by Omni owner (when known) and by day, for `history`. A record that cannot be stored is
logged and counted (AuditWriteFailures): the log line is the record then; the answer never waits.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from omni_relay.adapters.aws_json import AwsJson, Boto3Json, client
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import CancelOutcome, CancelRequest, Outcome
from omni_relay.errors import AwsCallFailed
from omni_relay.observability import count, logger

SCHEMA = "omni-cancel-relay.decision/1"
# A record is written after Omni's answer, inside the margin kept from the caller's deadline: a slow
# table costs the answer at most this much (then the log line is the record).
WRITE_TIMEOUT_S = 0.4
WHERE_CHARS = 300
# The relay's own no (the others are Omni's answers, or Omni not answering).
REFUSALS = frozenset(
    {
        Outcome.SENDER_NOT_ALLOWED,
        Outcome.NOT_CONFIGURED,
        Outcome.NOT_OWNER,
        Outcome.IDENTITY_UNKNOWN,
        Outcome.RATE_LIMITED,
        Outcome.INVALID_JOB_ID,
    }
)
# Decisions that stopped (or are stopping) a job: the ones `status` names as who cancelled it.
STOPPED_IT = frozenset({Outcome.CANCELLED.value, Outcome.STOPPING.value})
HISTORY_DAYS = 14  # how far back `history` reads the by-day index for people on call


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def where_asked(requester: Requester, thread: Mapping[str, str] | None = None) -> str:
    """Where a request was asked, as the record keeps it: a Slack channel (#C…), an issue or ticket
    (a GitHub link, or the source's own coordinates), else the scope the source names."""
    thread = thread or {}
    if requester.source == "slack":
        return f"#{requester.scope}" if requester.scope else ""
    if requester.source == "github" and thread.get("repo") and thread.get("number"):
        return f"https://github.com/{thread['repo']}/issues/{thread['number']}"
    if thread:
        return f"{requester.source}:" + ",".join(f"{k}={v}" for k, v in sorted(thread.items()))[:WHERE_CHARS]
    return f"{requester.source}:{requester.scope}"[:WHERE_CHARS] if requester.scope else requester.source


def who_is(requester: Mapping[str, Any]) -> dict[str, Any]:
    """The requester as a record names them: the vendor-vouched identity, the email only where known."""
    shown = {k: requester.get(k) for k in ("source", "principal", "ids", "actor", "trust", "user_id", "workspace")}
    shown["scope"] = requester.get("scope", "")
    if requester.get("email"):
        shown["email"] = requester["email"]
    return shown


def decision_record(
    request: CancelRequest,
    outcome: CancelOutcome,
    *,
    action: str,
    by: str,
    instance: str,
    request_id: str,
    at: float,
    retention_days: int,
) -> dict[str, Any]:
    """One decision in the versioned shape (SCHEMA), as it is stored and logged."""
    requester = request.requester
    details = outcome.job
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "id": f"{iso(at)}#{request_id or uuid.uuid4().hex}",
        "at": iso(at),
        "job_id": request.job_id,
        "instance": instance,
        "action": action,
        "decision": outcome.kind.value,
        "refused": outcome.kind in REFUSALS,
        "omni": {"state": outcome.state.value if outcome.state else None, "detail": outcome.detail[:200]},
        "requester": who_is({**requester.to_dict(), "principal": requester.principal}),
        "where": request.where[:WHERE_CHARS],
        "by": by,
        "request_id": request_id,
        "expires": int(at + retention_days * 86400),
    }
    if request.reason:
        record["reason"] = request.reason
    if details is not None and details.owner_id:
        record["owner"] = details.owner_id
    if details is not None and details.chat_url and outcome.kind not in REFUSALS:
        record["link"] = details.chat_url  # what `history` links to (never for a refusal: not their job)
    return record


@dataclass(frozen=True)
class Entry:
    """A stored record, read back (history, and who stopped a job)."""

    record: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:  # entry.job_id, entry.decision, …
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def principal(self) -> str:
        return str((self.record.get("requester") or {}).get("principal") or "")

    @property
    def epoch(self) -> float:
        try:
            return datetime.fromisoformat(str(self.record["at"]).replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            return 0.0


class AuditLog(Protocol):
    def put(self, record: Mapping[str, Any]) -> None:
        """Store one record (AwsCallFailed when it cannot)."""
        ...

    def for_job(self, job_id: str, limit: int) -> list[Entry]:
        """The job's records, newest first."""
        ...

    def by(self, index: str, value: str, limit: int) -> list[Entry]:
        """Records whose `index` (principal, owner or day) is `value`, newest first."""
        ...


class NoAudit:
    """No table configured: the log line is the only record."""

    def put(self, record: Mapping[str, Any]) -> None:
        return None

    def for_job(self, job_id: str, limit: int) -> list[Entry]:
        return []

    def by(self, index: str, value: str, limit: int) -> list[Entry]:
        return []


INDEXES = {"principal": "by-principal", "owner": "by-owner", "day": "by-day"}


class DynamoAudit:
    def __init__(self, table: str, dynamodb: AwsJson | Boto3Json | None = None) -> None:
        self.table = table
        self._client = dynamodb

    @property
    def client(self) -> AwsJson | Boto3Json:
        if self._client is None:
            self._client = client("dynamodb", "DynamoDB_20120810", WRITE_TIMEOUT_S)  # no boto3 on Slack's path
        return self._client

    def put(self, record: Mapping[str, Any]) -> None:
        item = {
            "job_id": {"S": record["job_id"] or "-"},
            "id": {"S": record["id"]},
            "principal": {"S": record["requester"]["principal"]},
            "day": {"S": record["at"][:10]},
            "expires": {"N": str(record["expires"])},
            "record": {"S": json.dumps(record, sort_keys=True)},
        }
        if record.get("owner"):
            item["owner"] = {"S": record["owner"]}
        self.client.call("PutItem", {"TableName": self.table, "Item": item})

    def for_job(self, job_id: str, limit: int) -> list[Entry]:
        return self._query("job_id", job_id, limit)

    def by(self, index: str, value: str, limit: int) -> list[Entry]:
        return self._query(index, value, limit, INDEXES[index])

    def _query(self, key: str, value: str, limit: int, index: str = "") -> list[Entry]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": {"S": value}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if index:
            params["IndexName"] = index
        items = self.client.call("Query", params).get("Items") or []
        return [e for e in (_entry(item) for item in items if isinstance(item, dict)) if e is not None]


def _entry(item: Mapping[str, Any]) -> Entry | None:
    try:
        record = json.loads(item["record"]["S"])
    except (KeyError, TypeError, ValueError):
        return None
    return Entry(record) if isinstance(record, dict) else None


def default_audit(table: str) -> AuditLog:
    return DynamoAudit(table) if table else NoAudit()


class Recorder:
    """Writes each decision: the log line always, the table when there is one. Never raises."""

    def __init__(self, log: AuditLog, instance: str, retention_days: int, now: Callable[[], float] = time.time) -> None:
        self.log = log
        self.instance = instance
        self.retention_days = retention_days
        self._now = now

    def record(
        self,
        request: CancelRequest,
        outcome: CancelOutcome,
        *,
        action: str,
        by: str,
        request_id: str,
        at: float | None = None,
    ) -> dict[str, Any]:
        record = decision_record(
            request,
            outcome,
            action=action,
            by=by,
            instance=self.instance,
            request_id=request_id,
            at=self._now() if at is None else at,
            retention_days=self.retention_days,
        )
        logger.info("decision recorded", extra={"audit": record})
        try:
            self.log.put(record)
        except AwsCallFailed as exc:
            logger.error("audit record not stored (the log line above is the record)", extra={"reason": exc.code})
            count("AuditWriteFailures", reason=exc.code[:40])
        return record

    def last_stop(self, job_id: str) -> Entry | None:
        """The newest decision that stopped `job_id` through the relay, if any (None when unknown)."""
        try:
            entries = self.log.for_job(job_id, 20)
        except AwsCallFailed as exc:
            logger.warning("audit records unreadable: status names Omni's canceller", extra={"reason": exc.code})
            count("AuditReadFailures", reason=exc.code[:40])
            return None
        return next((e for e in entries if e.action == "cancel" and e.decision in STOPPED_IT), None)


@dataclass(frozen=True)
class Viewer:
    """Who asks for `history`, and what they may see: their own requests; in owner-or-on-call mode
    the jobs they own (`omni_user`); everything when on call."""

    principal: str
    omni_user: str = ""
    on_call: bool = False

    def may_see(self, entry: Entry) -> bool:
        if self.on_call:
            return True
        if entry.principal == self.principal:
            return True
        return bool(self.omni_user) and entry.record.get("owner") == self.omni_user


def history(log: AuditLog, viewer: Viewer, n: int, now: float | None = None) -> list[Entry]:
    """The last `n` decisions `viewer` may see, newest first (AwsCallFailed when the table cannot say)."""
    found: list[Entry] = []
    if viewer.on_call:
        today = time.time() if now is None else now
        for days_back in range(HISTORY_DAYS):
            found += log.by("day", iso(today - days_back * 86400)[:10], n)
            if len(found) >= n:
                break
    else:
        found += log.by("principal", viewer.principal, n)
        if viewer.omni_user:
            found += log.by("owner", viewer.omni_user, n)
    return newest(e for e in found if viewer.may_see(e))[:n]


def newest(entries: Iterable[Entry]) -> list[Entry]:
    unique = {str(e.record.get("id")): e for e in entries}
    return sorted(unique.values(), key=lambda e: str(e.record.get("id")), reverse=True)
