"""Domain types: what a cancel request is, and every way it can end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omni_relay.domain.identity import Requester


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
    STOPPING = "stopping"  # 200 EXECUTING (or QUEUED): Omni stops it after its current iteration
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
    ALREADY_CANCELLED = "already_cancelled"  # 200 CANCELLED, and Omni's cancelledAt is before this request
    # How a followed cancel (STOPPING) ended: the worker's last word on it.
    STOPPED = "stopped"  # the job reached CANCELLED
    FINISHED_FIRST = "finished_first"  # the job completed (or failed) before it could stop
    STILL_RUNNING = "still_running"  # not terminal when following gave up (the documented cap)
    # Owner-or-on-call (Omni's own rule, with the org key): refused by the relay before any cancel.
    NOT_OWNER = "not_owner"  # neither the job's owner nor on call
    IDENTITY_UNKNOWN = "identity_unknown"  # who asked could not be established (Slack, SCIM, the map)


# Outcomes the worker can still turn into a result, given more time than the caller's deadline.
RETRY_LATER = frozenset({Outcome.OMNI_UNAVAILABLE, Outcome.OMNI_BUSY})


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
    reason: str = ""  # why, as the requester wrote it after the job (grammar.Command.reason)
    where: str = ""  # where it was asked: a Slack channel, an issue or ticket (audit.where_asked)


@dataclass(frozen=True)
class JobDetails:
    """What Omni's job status says about a job, for people to see what is being cancelled. Every text
    field here is data from Omni (the prompt is whatever someone typed): each surface renders it literally."""

    prompt: str = ""
    owner_id: str = ""
    owner_name: str = ""  # from Omni's users (SCIM), when the relay looked them up
    chat_url: str = ""
    progress: str = ""  # while executing: what the AI is doing now
    iteration: int = 0
    created_at: float | None = None
    cancelled_at: float | None = None
    cancelled_by: str = ""
    completed_at: float | None = None
    error: str = ""
    # Who cancelled it through the relay (the audit record), which Omni cannot say with the org key:
    # their principal (a namespaced id), where they asked, and their reason (a sender's text: data).
    stopped_by: str = ""
    stopped_from: str = ""
    stopped_because: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None, 0)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobDetails:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def as_mapping(value: object) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one: for reading payloads field by field."""
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class CancelOutcome:
    job_id: str
    kind: Outcome
    state: JobState | None = None
    # For operators' logs only: never shown to a requester, never holds a secret.
    detail: str = field(default="", compare=False)
    retry_after_s: float = field(default=0.0, compare=False)  # RATE_LIMITED: when this sender may try again
    job: JobDetails | None = field(default=None, compare=False)  # the job's status, when Omni gave it
    following: bool = field(default=False, compare=False)  # STOPPING: the worker will say when it stopped
    after_s: float = field(default=0.0, compare=False)  # followed cancels: seconds from the request to the end
    at: float = field(default=0.0, compare=False)  # when Omni gave `job` (epoch s): ages are told from then
    why: str = field(default="", compare=False)  # IDENTITY_UNKNOWN: the reason, in the relay's own words

    def as_dict(self) -> dict[str, str | None]:
        return {
            "jobId": self.job_id,
            "state": self.state.value if self.state else None,
            "outcome": self.kind.value,
        }

    def to_record(self) -> dict[str, Any]:
        """What de-duplication stores, so a repeated request gets this outcome back."""
        record: dict[str, Any] = {**self.as_dict(), "detail": self.detail}
        if self.job is not None:
            record["job"] = self.job.to_dict()
        if self.following:
            record["following"] = True
        if self.after_s:
            record["after_s"] = self.after_s
        if self.at:
            record["at"] = self.at
        if self.why:
            record["why"] = self.why
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CancelOutcome:
        job = record.get("job")
        return cls(
            str(record["jobId"]),
            Outcome(record["outcome"]),
            JobState.parse(record.get("state")),
            str(record.get("detail", "")),
            job=JobDetails.from_dict(job) if isinstance(job, Mapping) else None,
            following=bool(record.get("following")),
            after_s=float(record.get("after_s") or 0.0),
            at=float(record.get("at") or 0.0),
            why=str(record.get("why") or ""),
        )
