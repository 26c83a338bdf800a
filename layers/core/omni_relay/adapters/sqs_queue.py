"""The task queue on SQS, over its JSON protocol (aws_json.py)."""

from __future__ import annotations

from typing import Any

from omni_relay.adapters.aws_json import AwsJson, Boto3Json, client, transient
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import AwsCallFailed, QueueFailed


class SqsTaskQueue:
    """SQS over its JSON protocol (aws_json.py): a relay that queues a task on a Slack command's path
    (the owner's notice, a hand-off) never imports boto3. Two attempts, as boto3's standard retry mode
    with max_attempts=2 made (a message sent twice is de-duplicated by the worker)."""

    def __init__(self, queue_url: str, sqs: AwsJson | Boto3Json | None = None) -> None:
        self._url = queue_url
        self._client = sqs

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        if self._client is None:
            self._client = client("sqs", "AmazonSQS")
        for attempt in (1, 2):
            try:
                self._client.call(operation, {"QueueUrl": self._url, **params})
                return
            except AwsCallFailed as exc:
                if attempt == 2 or not transient(exc):
                    raise QueueFailed(exc.code) from None

    def send(self, task: CancelTask, delay_s: int = 0) -> None:
        self._call("SendMessage", {"MessageBody": task.to_json(), "DelaySeconds": max(0, min(int(delay_s), 900))})

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        # On failure the queue's visibility timeout applies.
        self._call("ChangeMessageVisibility", {"ReceiptHandle": receipt_handle, "VisibilityTimeout": seconds})
