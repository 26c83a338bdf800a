"""SQS entry point: finishes cancels the relay handed off, follows cancelled executing jobs until
they stop, and posts the results back.

A thin Powertools batch handler: each record is one CancelTask. Records that Omni cannot
answer yet are reported as batch item failures, so SQS redelivers them after the visibility
timeout; on the last allowed receive the requester is told, and the record goes on to the DLQ
with everything a redrive needs. A task with `follow` is one poll of a followed job (following.py).
The use case is finishing.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from omni_relay import wiring
from omni_relay.domain.tasks import CancelTask
from omni_relay.observability import logger, metrics, traced
from omni_relay.usecases.finishing import finish

# Every failed record is reported as a batch item failure, also when all of them fail (Omni down):
# an invocation error would count as a function error and log a traceback for an expected retry.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
runtime = wiring.current


def finish_record(record: SQSRecord) -> None:
    task = CancelTask.from_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    logger.append_keys(job_id=task.job_id, attempt=attempt, relay_request_id=task.request_id)
    finish(runtime(), task, attempt, record.receipt_handle)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@traced
def lambda_handler(event: dict, context: LambdaContext) -> Mapping[str, Any]:
    runtime().dedupe.register_lambda_context(context)
    metrics.add_metric(name="TasksReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return process_partial_response(event=event, record_handler=finish_record, processor=processor, context=context)
