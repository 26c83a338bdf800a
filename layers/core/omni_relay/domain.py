"""Domain types: what a cancel request is, and every way it can end."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
    """Who asked, in the source's own terms (Slack team/user/channel, GitHub repo/user, ...)."""

    source: str
    user_id: str
    team_id: str = ""
    channel_id: str = ""
    display_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.team_id}:{self.user_id}" if self.team_id else self.user_id


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

    def as_dict(self) -> dict[str, str | None]:
        return {
            "jobId": self.job_id,
            "state": self.state.value if self.state else None,
            "outcome": self.outcome.value,
        }
