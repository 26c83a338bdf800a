"""What Lambda's SQS event source mapping does, as the template configures it (BatchSize,
FunctionResponseTypes, ScalingConfig.MaximumConcurrency): long-poll the queue with the function's
own credentials (so its policy is what allows it), invoke the function with each batch, delete what
succeeded, and leave the rest to come back after the visibility timeout, on to the dead-letter queue
after maxReceiveCount. Without ReportBatchItemFailures a batch succeeds or fails whole."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.cloud.sam_template import QueueTrigger


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


class SqsEventSource:
    def __init__(
        self,
        trigger: QueueTrigger,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        sqs: Any,  # a boto3 SQS client holding the function's credentials
        *,
        region: str,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.trigger = trigger
        self._url, self._arn, self._region = queue_url, queue_arn, region
        self._invoke = invoke
        self._sqs = sqs
        self._on_batch = on_batch
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failed_batches: list[list[str]] = []  # receipt handles of batches whose invocation failed
        self.errors: list[str] = []

    def start(self) -> SqsEventSource:
        self._stop.clear()
        # One poller per concurrent invocation the scaling config allows.
        for i in range(self.trigger.max_concurrency if self.trigger.enabled else 0):
            thread = threading.Thread(target=self._run, name=f"sqs-poller-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def poll_once(self, wait_s: int = 1) -> int:
        reply = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(self.trigger.batch_size, 10),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self._invoke(sqs_event(messages, self._arn, self._region))
        except Exception as exc:  # the function failed: the whole batch comes back after the visibility timeout
            self.errors.append(str(exc))
            self.failed_batches.append([m["ReceiptHandle"] for m in messages])
            if self._on_batch:
                self._on_batch(len(messages), len(messages))
            return len(messages)
        failed: set[str] = set()
        if self.trigger.report_item_failures and isinstance(result, dict):
            failed = {str(item.get("itemIdentifier")) for item in result.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if self._on_batch:
            self._on_batch(len(messages), len(messages) - len(done))
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the queue itself failed (or refused): back off, as the mapping does
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(1.0)
