"""The one use case every entry point shares (the Slack command, the Slack button, each webhook
source): cancel within the caller's deadline, or hand the cancel to the worker and promise only what
will happen. The sender's policy is chosen inside the cancel service, by the requester's source."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

from omni_relay.adapters.ratelimit import SharedSenderLimit
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.model import (
    RETRY_LATER,
    CancelOutcome,
    CancelRequest,
    JobDetails,
    JobState,
    Outcome,
    ReplyTarget,
)
from omni_relay.domain.tasks import CancelTask
from omni_relay.observability import count, logger
from omni_relay.usecases.audit import Recorder
from omni_relay.usecases.authorized_omni import AuthorizedOmni
from omni_relay.usecases.following import Following
from omni_relay.usecases.handoff import Handoff


class CancelPorts(Protocol):
    """What every entry point's cancel needs (the Runtime, or fakes in tests)."""

    authorized: AuthorizedOmni
    recorder: Recorder
    sender_limit: SharedSenderLimit
    handoff: Handoff
    following: Following


def decided(
    ports: CancelPorts, request: CancelRequest, outcome: CancelOutcome, *, action: str, by: str, request_id: str = ""
) -> CancelOutcome:
    """The one place a decision is recorded (audit.py), relay and worker alike: every cancel, refusal
    and status answered, once (callers run inside their de-duplication)."""
    ports.recorder.record(request, outcome, action=action, by=by, request_id=request_id)
    return outcome


def who_stopped(ports: CancelPorts, request: CancelRequest, outcome: CancelOutcome) -> CancelOutcome:
    """A cancelled job's details with who cancelled it through the relay, from where and why (the
    audit record), which Omni cannot say with the org key. Unchanged when the relay did not."""
    details = outcome.job
    cancelled = outcome.state is JobState.CANCELLED or outcome.kind is Outcome.ALREADY_CANCELLED
    if details is None or not cancelled or request.requester.public:  # outsiders see no one's name
        return outcome
    entry = ports.recorder.last_stop(outcome.job_id)
    if entry is None:
        return outcome
    shown = replace(
        details,
        stopped_by=entry.principal,
        stopped_from=str(entry.record.get("where") or ""),
        stopped_because=str(entry.record.get("reason") or ""),
        cancelled_at=details.cancelled_at or entry.epoch,
    )
    return replace(outcome, job=shown)


def with_reason(request: CancelRequest, outcome: CancelOutcome) -> CancelOutcome:
    """The requester's reason shown with the cancel Omni accepted (a fact: their text, shown literally)."""
    if not request.reason or outcome.kind not in (Outcome.CANCELLED, Outcome.STOPPING):
        return outcome
    return replace(outcome, job=replace(outcome.job or JobDetails(), stopped_because=request.reason))


def look(ports: CancelPorts, request: CancelRequest, deadline: Deadline, *, request_id: str) -> CancelOutcome:
    """A status answered (read-only), with who stopped the job when the relay did; recorded."""
    outcome = who_stopped(ports, request, ports.authorized.status(request, deadline))
    return decided(ports, request, outcome, action="status", by="relay", request_id=request_id)


def over_rate_limit(ports: CancelPorts, request: CancelRequest, *, action: str = "cancel") -> CancelOutcome | None:
    """RATE_LIMITED (Omni is not called) while this sender is over the relay's per-sender limit.
    Checked before de-duplication, so a limited request is not remembered as answered."""
    wait = ports.sender_limit.wait_s(request.requester.principal)  # the namespaced identity, and nothing else
    if not wait:
        return None
    logger.warning("sender over the relay's rate limit", extra={"retry_after_s": round(wait, 1)})
    count("RateLimited", source=request.requester.source)
    limited = CancelOutcome(
        request.job_id, Outcome.RATE_LIMITED, detail=f"may retry in {wait:.0f}s", retry_after_s=wait
    )
    return decided(ports, request, limited, action=action, by="relay")


def cancel_or_hand_off(
    ports: CancelPorts, request: CancelRequest, deadline: Deadline, *, reply: ReplyTarget | None, request_id: str
) -> CancelOutcome:
    """Cancel by `deadline`. When Omni could not answer in time and a later result can still reach
    the requester (`reply`), queue the cancel for the worker and say PENDING; when it cannot be
    queued, say what is known now instead of promising a post-back. When Omni will stop the job only
    after its current step, follow it, and say that the requester will hear when it has stopped.
    The decision is recorded, and the job's owner told by the worker when someone else cancelled it."""
    outcome = with_reason(request, who_stopped(ports, request, ports.authorized.cancel(request, deadline)))
    task = CancelTask.of(request, reply or ReplyTarget(), request_id)
    if outcome.kind not in RETRY_LATER:
        if reply is not None:
            outcome = follow_if_stopping(ports, task, outcome)
        ports.handoff.tell_owner_later(task, outcome)
    # Held back by Omni's budget: the worker sends it when the budget has room again, and the
    # requester is told when that will be.
    elif reply is not None and ports.handoff.send(task, delay_s=(wait := math.ceil(outcome.retry_after_s))):
        outcome = CancelOutcome(
            request.job_id, Outcome.PENDING, detail=f"handed off after: {outcome.detail}", retry_after_s=wait
        )
    return decided(ports, request, outcome, action="cancel", by="relay", request_id=request_id)


def follow_if_stopping(ports: CancelPorts, task: CancelTask, outcome: CancelOutcome) -> CancelOutcome:
    """Omni stops an EXECUTING job only after its current step: follow it (following.py), and say
    whether the requester will hear when it has stopped. Relay and worker alike."""
    if outcome.kind is not Outcome.STOPPING:
        return outcome
    return replace(outcome, following=ports.following.start(task))
