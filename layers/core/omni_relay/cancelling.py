"""The one use case every entry point shares (the Slack command, the Slack button, each webhook
source): cancel within the caller's deadline, or hand the cancel to the worker and promise only what
will happen. The sender's policy is chosen inside the cancel service, by the requester's source."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

from omni_relay.deadline import Deadline
from omni_relay.domain import RETRY_LATER, CancelOutcome, CancelRequest, Outcome, ReplyTarget
from omni_relay.handoff import CancelTask
from omni_relay.identity import Requester
from omni_relay.service import CancelService


class CancelPorts(Protocol):
    service: CancelService

    def sender_wait_s(self, requester: Requester) -> float: ...

    def hand_off(self, task: CancelTask, delay_s: int = 0) -> bool: ...

    def follow_up(self, task: CancelTask) -> bool:
        """Start following `task`'s job until it has stopped (following.py); False when it cannot."""
        ...


def over_rate_limit(ports: CancelPorts, request: CancelRequest) -> CancelOutcome | None:
    """RATE_LIMITED (Omni is not called) while this sender is over the relay's per-sender limit.
    Checked before de-duplication, so a limited request is not remembered as answered."""
    wait = ports.sender_wait_s(request.requester)
    if not wait:
        return None
    return CancelOutcome(request.job_id, Outcome.RATE_LIMITED, detail=f"may retry in {wait:.0f}s", retry_after_s=wait)


def cancel_or_hand_off(
    ports: CancelPorts, request: CancelRequest, deadline: Deadline, *, reply: ReplyTarget | None, request_id: str
) -> CancelOutcome:
    """Cancel by `deadline`. When Omni could not answer in time and a later result can still reach
    the requester (`reply`), queue the cancel for the worker and say PENDING; when it cannot be
    queued, say what is known now instead of promising a post-back. When Omni will stop the job only
    after its current step, follow it, and say that the requester will hear when it has stopped."""
    outcome = ports.service.cancel(request, deadline)
    if reply is None:
        return outcome
    task = CancelTask(request.job_id, request.requester, reply, request_id)
    if outcome.outcome not in RETRY_LATER:
        return follow_if_stopping(ports, task, outcome)
    # Held back by Omni's budget: the worker sends it when the budget has room again, and the
    # requester is told when that will be.
    wait = math.ceil(outcome.retry_after_s)
    if not ports.hand_off(task, delay_s=wait):
        return outcome
    return CancelOutcome(
        request.job_id, Outcome.PENDING, detail=f"handed off after: {outcome.detail}", retry_after_s=wait
    )


def follow_if_stopping(ports: CancelPorts, task: CancelTask, outcome: CancelOutcome) -> CancelOutcome:
    """Omni stops an EXECUTING job only after its current step: follow it (following.py), and say
    whether the requester will hear when it has stopped. Relay and worker alike."""
    if outcome.outcome is not Outcome.STOPPING:
        return outcome
    return replace(outcome, following=ports.follow_up(task))
