"""Domain types: what a cancel request is, and every way it can end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    DELIVERING = "DELIVERING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETE, JobState.FAILED, JobState.CANCELLED)

    @classmethod
    def parse(cls, value: object) -> JobState | None:
        return cls(value) if isinstance(value, str) and value in cls._value2member_map_ else None


class Outcome(StrEnum):
    """Every answer a requester can get. One user-facing message per member."""

    CANCELLED = "cancelled"  # 200 CANCELLED
    ALREADY_FINISHED = "already_finished"  # 200 COMPLETE / FAILED (cancel is idempotent)
    STOPPING = "stopping"  # 200 EXECUTING: stops after its current iteration
    NOT_CANCELLABLE = "not_cancellable"  # 400 / DELIVERING
    FORBIDDEN = "forbidden"  # 403: only the owner or an org admin
    NOT_FOUND = "not_found"  # 404: unknown, or another org
    INVALID_JOB_ID = "invalid_job_id"  # Omni said the id is not a UUID
    KEY_REJECTED = "key_rejected"  # 401 even after re-reading the key
    OMNI_BUSY = "omni_busy"  # 429 after retries
    OMNI_UNAVAILABLE = "omni_unavailable"  # 5xx, timeouts, connection errors
    UNEXPECTED_REPLY = "unexpected_reply"  # a reply the contract does not describe
    SENDER_NOT_ALLOWED = "sender_not_allowed"  # the relay's own authorization said no
    NOT_CONFIGURED = "not_configured"  # no credential mode is set up
    SETTINGS_UNAVAILABLE = "settings_unavailable"  # the Omni secret could not be read
    PENDING = "pending"  # handed to the worker; the result is posted back later
    STATUS = "status"  # a status look-up, not a cancel
    RATE_LIMITED = "rate_limited"  # the relay's per-sender limit: not sent to Omni


# Outcomes the worker can still turn into a result, given more time than the caller's deadline.
RETRY_LATER = frozenset({Outcome.OMNI_UNAVAILABLE, Outcome.OMNI_BUSY})


@dataclass(frozen=True)
class Requester:
    """Who asked, the same fields for every source:
    - source: where the request came from (slack, github, jira, …);
    - user_id: the person, in that source's ids (Slack U…, a GitHub login, a Jira accountId, …);
    - scope: where they asked, which allow-lists name (Slack channel, GitHub repository, Jira project,
      Zendesk brand, PagerDuty service, Linear team, Teams tenant, a sender's own scope);
    - workspace: the Slack workspace (team id); empty for the other sources, which have one per relay."""

    source: str
    user_id: str
    scope: str = ""
    workspace: str = ""

    @property
    def key(self) -> str:
        """The person across sources, as the Omni secret's user_tokens names them ("T0123:U0456", "github:octocat")."""
        return f"{self.workspace or self.source}:{self.user_id}"

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "user_id": self.user_id, "scope": self.scope, "workspace": self.workspace}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requester:
        """Also reads the names tasks were queued with before (team_id, channel_id), so none is lost in an upgrade."""
        source = str(data.get("source") or "slack")
        workspace = str(data.get("workspace") or data.get("team_id") or "")
        return cls(
            source=source,
            user_id=str(data.get("user_id") or ""),
            scope=str(data.get("scope") or data.get("channel_id") or ""),
            workspace="" if workspace == source else workspace,
        )


@dataclass(frozen=True)
class ReplyTarget:
    """Where a result found later is told: Slack's response_url, or the issue, ticket or incident a
    webhook came from (the source's own coordinates, for its comment API)."""

    url: str = ""
    thread: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "thread": dict(self.thread)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyTarget:
        thread = data.get("thread") or {}
        return cls(str(data.get("url") or ""), {str(k): str(v) for k, v in thread.items()})


@dataclass(frozen=True)
class CancelRequest:
    job_id: str
    requester: Requester


@dataclass(frozen=True)
class CancelOutcome:
    job_id: str
    outcome: Outcome
    state: JobState | None = None
    # For operators' logs only: never shown to a requester, never holds a secret.
    detail: str = field(default="", compare=False)
    retry_after_s: float = field(default=0.0, compare=False)  # RATE_LIMITED: when this sender may try again

    def as_dict(self) -> dict[str, str | None]:
        return {
            "jobId": self.job_id,
            "state": self.state.value if self.state else None,
            "outcome": self.outcome.value,
        }

    def to_record(self) -> dict[str, Any]:
        """What de-duplication stores, so a repeated request gets this outcome back."""
        return {**self.as_dict(), "detail": self.detail}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CancelOutcome:
        return cls(
            str(record["jobId"]), Outcome(record["outcome"]), JobState.parse(record.get("state")), record["detail"]
        )
