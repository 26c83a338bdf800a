"""Reading Omni's answers, per both specs (the brief's and the published one): a job's status as
JobDetails, and any reply to a cancel or a status read as one CancelOutcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omni_relay.adapters.omni import OmniReply
from omni_relay.domain.model import CancelOutcome, JobDetails, JobState, Outcome, as_mapping
from omni_relay.domain.timestamps import iso_seconds


def job_details(body: Mapping[str, Any]) -> JobDetails:
    """From Omni's GET /v1/ai/jobs/{jobId} reply (AiJobStatusResponse); unknown or odd fields are skipped."""
    progress = as_mapping(body.get("progress"))
    error = as_mapping(body.get("error"))
    iteration = progress.get("iteration")
    return JobDetails(
        prompt=_str(body.get("prompt"))[:2000],
        owner_id=_str(body.get("userId"))[:100],
        chat_url=_str(body.get("omniChatUrl"))[:2000],
        progress=_str(progress.get("message"))[:500],
        iteration=iteration if isinstance(iteration, int) and not isinstance(iteration, bool) else 0,
        created_at=iso_seconds(body.get("createdAt")),
        cancelled_at=iso_seconds(body.get("cancelledAt")),
        cancelled_by=_str(body.get("cancelledBy"))[:100],
        completed_at=iso_seconds(body.get("completedAt")),
        error=_str(error.get("message"))[:500],
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def interpret(job_id: str, reply: OmniReply, *, lookup: bool = False) -> CancelOutcome:
    """Omni's reply, per both specs (the brief's and the published one), as one Outcome."""
    status, message = reply.status, reply.message
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 200:
        state = JobState.parse(reply.body.get("state")) if reply.is_json else None
        if state is None:
            return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail + " with no known state")
        if lookup:
            return CancelOutcome(job_id, Outcome.STATUS, state, detail, job=job_details(reply.body))
        by_state = {
            JobState.CANCELLED: Outcome.CANCELLED,
            JobState.COMPLETE: Outcome.ALREADY_FINISHED,
            JobState.FAILED: Outcome.ALREADY_FINISHED,
            JobState.EXECUTING: Outcome.STOPPING,
            JobState.QUEUED: Outcome.STOPPING,
            JobState.DELIVERING: Outcome.NOT_CANCELLABLE,
        }
        return CancelOutcome(job_id, by_state[state], state, detail)
    if status == 400:
        lowered = message.lower()
        if "cancellable" in lowered or "cancelable" in lowered:
            return CancelOutcome(job_id, Outcome.NOT_CANCELLABLE, JobState.DELIVERING, detail)
        if "uuid" in lowered or "job id" in lowered:
            return CancelOutcome(job_id, Outcome.INVALID_JOB_ID, detail=detail)
        return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail)
    simple = {
        401: Outcome.KEY_REJECTED,
        403: Outcome.FORBIDDEN,
        404: Outcome.NOT_FOUND,
        409: Outcome.OMNI_BUSY,
        429: Outcome.OMNI_BUSY,
    }
    if status in simple:
        return CancelOutcome(job_id, simple[status], detail=detail)
    if status >= 500:
        return CancelOutcome(job_id, Outcome.OMNI_UNAVAILABLE, detail=detail)
    return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail)
