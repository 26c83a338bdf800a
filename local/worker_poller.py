"""What Lambda's SQS event source mapping does, for the local stack: long-poll the queue in moto
server, hand batches to the worker's handler, delete what succeeded, leave batch item failures
to come back after the visibility timeout (and on to the DLQ after maxReceiveCount)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.gateway import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePoller:
    def __init__(self, handler: Handler, queue_url: str, *, batch_size: int = 10, region: str = "us-east-1") -> None:
        import boto3

        self._sqs = boto3.client("sqs", region_name=region)
        self._handler = handler
        self._url = queue_url
        self._batch = batch_size
        self._region = region
        attrs = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._arn = attrs["Attributes"]["QueueArn"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-poller", daemon=True)
        self.batches = 0

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self, wait_s: int = 1) -> int:
        reply = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=self._batch, WaitTimeSeconds=wait_s, AttributeNames=["All"]
        )
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        result = self._handler(
            sqs_event(messages, self._arn, self._region), LambdaContext(function_name="omni-cancel-worker-local")
        )
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self.batches += 1
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a handler crash: like Lambda, the whole batch comes back later
                self._stop.wait(0.5)
