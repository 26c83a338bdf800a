"""The worker's use case: finish one task the relay handed off — a cancel (park it in the DLQ after
the last attempt, or bring it back sooner), one step of following a job, or the owner's notice.

Every task runs once per its de-duplication key, also when SQS delivers it twice. A cancel Omni
could not answer raises NotFinishedYet, so the batch reports it as failed and SQS delivers it
again; one Omni's budget held back is queued anew for when the budget has room (HeldBack).
"""

from __future__ import annotations

import math
from typing import Protocol

from omni_relay.adapters.dedupe import Deduplicator
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.model import RETRY_LATER
from omni_relay.domain.tasks import CancelTask, retry_delay_s
from omni_relay.errors import HeldBack, NotFinishedYet
from omni_relay.observability import count, logger
from omni_relay.settings import Settings
from omni_relay.usecases.cancelling import CancelPorts, decided, follow_if_stopping, who_stopped, with_reason
from omni_relay.usecases.later import LaterResults
from omni_relay.usecases.owner_notice import NoticePorts, tell_owner


class WorkerPorts(CancelPorts, NoticePorts, Protocol):
    dedupe: Deduplicator
    settings: Settings
    later: LaterResults


def finish(ports: WorkerPorts, task: CancelTask, attempt: int, receipt_handle: str) -> None:
    """Finish `task`, received for the `attempt`-th time."""
    if task.follow is not None:
        follow = task.follow
        logger.append_keys(follow_poll=follow.poll)
        # One run per step, also when SQS delivers it twice or the worker died after queueing the next.
        key = f"follow:{task.request_id}:{task.job_id}:{follow.step}"
        ports.dedupe.once(key, lambda: {"did": ports.following.step(task, follow)})
        return
    if task.notice is not None:
        # Told once, also when SQS delivers the notice twice.
        ports.dedupe.once(f"owner:{task.request_id}:{task.job_id}", lambda: {"told": tell_owner(ports, task)})
        return
    # A redelivered task that already finished (the worker died before deleting it) is not repeated.
    try:
        ports.dedupe.once(
            f"task:{task.request_id}:{task.job_id}", lambda: _cancel(ports, task, attempt, receipt_handle)
        )
    except HeldBack as held:
        logger.info("cancel held back by Omni's budget: queued again", extra={"detail": str(held)})


def _cancel(ports: WorkerPorts, task: CancelTask, attempt: int, receipt_handle: str) -> dict:
    settings = ports.settings
    outcome = ports.authorized.cancel(task.request, Deadline.within(settings.worker_deadline_s))
    count("Outcomes", source="worker", outcome=outcome.kind.value)
    if outcome.retry_after_s and ports.handoff.send(task, delay_s=math.ceil(outcome.retry_after_s)):
        # Not one of the task's attempts: a new task for when the budget has room (nothing recorded).
        raise HeldBack(outcome.detail)
    if outcome.kind in RETRY_LATER:
        last = attempt >= settings.max_receives
        if last:
            logger.error(
                "cancel not finished after the last attempt: parked in the DLQ", extra={"detail": outcome.detail}
            )
            ports.later.tell(task, outcome, given_up_after=attempt)
            count("TasksParked")
            decided(ports, task.request, outcome, action="cancel", by="worker", request_id=task.request_id)
        # Back after a backoff rather than the queue's visibility timeout (minutes, sized for a worker
        # that crashes), so people hear the result sooner; after the last attempt at once, so the
        # queue parks it in the DLQ (and the alarm fires) now.
        if settings.task_retry_delay_s:
            ports.handoff.sooner(receipt_handle, 0 if last else retry_delay_s(settings.task_retry_delay_s, attempt))
        raise NotFinishedYet(outcome.detail)  # nothing is recorded: the redelivery runs again
    logger.info("cancel finished", extra={"outcome": outcome.kind.value, "detail": outcome.detail})
    outcome = with_reason(task.request, who_stopped(ports, task.request, outcome))
    ports.later.tell(task, follow_if_stopping(ports, task, outcome))
    decided(ports, task.request, outcome, action="cancel", by="worker", request_id=task.request_id)
    if notice := ports.handoff.notice_for(task, outcome):  # after the requester's answer
        tell_owner(ports, notice)
    return outcome.as_dict()
