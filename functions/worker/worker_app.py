"""SQS entry point: finishes cancels the relay handed off, follows cancelled executing jobs until
they stop, and posts the results back.

A thin Powertools batch handler: each record is one CancelTask. Records that Omni cannot
answer yet are reported as batch item failures, so SQS redelivers them after the visibility
timeout; on the last allowed receive the requester is told, and the record goes on to the DLQ
with everything a redrive needs. A task with `follow` is one poll of a followed job (following.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from omni_relay import wiring
from omni_relay.cancelling import decided, follow_if_stopping, who_stopped, with_reason
from omni_relay.deadline import Deadline
from omni_relay.domain import RETRY_LATER
from omni_relay.following import follow_step
from omni_relay.handoff import CancelTask, HandoffFailed, retry_delay_s
from omni_relay.observability import count, logger, metrics, traced
from omni_relay.owner_notice import tell_owner

# Every failed record is reported as a batch item failure, also when all of them fail (Omni down):
# an invocation error would count as a function error and log a traceback for an expected retry.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
runtime = wiring.current


class NotFinishedYet(Exception):
    """Omni could not answer this time: SQS will deliver the task again."""


class HeldBack(Exception):
    """Omni's budget held the cancel back: it is queued again for when the budget has room."""


def finish(record: SQSRecord) -> None:
    rt = runtime()
    task = CancelTask.from_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    logger.append_keys(job_id=task.job_id, attempt=attempt, relay_request_id=task.request_id)
    if task.follow is not None:
        follow = task.follow
        logger.append_keys(follow_poll=follow.poll)
        # One run per step, also when SQS delivers it twice or the worker died after queueing the next.
        rt.dedupe.once(
            f"follow:{task.request_id}:{task.job_id}:{follow.step}", lambda: {"did": follow_step(rt, task, follow)}
        )
        return
    if task.notice is not None:
        # Told once, also when SQS delivers the notice twice.
        rt.dedupe.once(f"owner:{task.request_id}:{task.job_id}", lambda: {"told": tell_owner(rt, task)})
        return

    def cancel_and_post() -> dict:
        outcome = rt.service.cancel(task.request, Deadline.within(rt.settings.worker_deadline_s))
        count("Outcomes", source="worker", outcome=outcome.outcome.value)
        if outcome.retry_after_s and rt.hand_off(task, delay_s=math.ceil(outcome.retry_after_s)):
            # Not one of the task's attempts: a new task for when the budget has room (nothing recorded).
            raise HeldBack(outcome.detail)
        if outcome.outcome in RETRY_LATER:
            if attempt >= rt.settings.max_receives:
                logger.error(
                    "cancel not finished after the last attempt: parked in the DLQ", extra={"detail": outcome.detail}
                )
                rt.tell(task, outcome, given_up_after=attempt)
                count("TasksParked")
                decided(rt, task.request, outcome, action="cancel", by="worker", request_id=task.request_id)
            retry_soon(record, attempt, park=attempt >= rt.settings.max_receives)
            raise NotFinishedYet(outcome.detail)  # nothing is recorded: the redelivery runs again
        logger.info("cancel finished", extra={"outcome": outcome.outcome.value, "detail": outcome.detail})
        outcome = with_reason(task.request, who_stopped(rt, task.request, outcome))
        rt.tell(task, follow_if_stopping(rt, task, outcome))
        decided(rt, task.request, outcome, action="cancel", by="worker", request_id=task.request_id)
        if notice := rt.notice_for(task, outcome):  # after the requester's answer
            tell_owner(rt, notice)
        return outcome.as_dict()

    # A redelivered task that already finished (the worker died before deleting it) is not repeated.
    try:
        rt.dedupe.once(f"task:{task.request_id}:{task.job_id}", cancel_and_post)
    except HeldBack as held:
        logger.info("cancel held back by Omni's budget: queued again", extra={"detail": str(held)})


def retry_soon(record: SQSRecord, attempt: int, *, park: bool) -> None:
    """Bring the task back after a backoff rather than the queue's visibility timeout (minutes, sized
    for a worker that crashes), so people hear the result sooner; after the last attempt at once, so
    the queue parks it in the DLQ (and the alarm fires) now."""
    rt = runtime()
    if rt.queue is None or not rt.settings.task_retry_delay_s:
        return
    delay = 0 if park else retry_delay_s(rt.settings.task_retry_delay_s, attempt)
    try:
        rt.queue.retry_in(record.receipt_handle, delay)
    except HandoffFailed as exc:
        logger.warning("could not shorten the retry delay", extra={"reason": str(exc)})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict, context: LambdaContext) -> Mapping[str, Any]:
    runtime().dedupe.register_lambda_context(context)
    metrics.add_metric(name="TasksReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return process_partial_response(event=event, record_handler=finish, processor=processor, context=context)
