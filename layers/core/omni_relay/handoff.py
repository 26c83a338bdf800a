"""Handing a cancel that cannot finish within the caller's deadline to the worker, through SQS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from omni_relay.domain import CancelRequest, Requester


@dataclass(frozen=True)
class CancelTask:
    """Everything the worker needs to finish (and a redrive to repeat) one accepted cancel."""

    job_id: str
    requester: Requester
    reply_to: str  # where the result is posted (Slack response_url); "" for webhook sources
    request_id: str = ""
    source: str = "slack"  # a webhook source posts through its own API and the callback instead
    thread: Mapping[str, str] = field(default_factory=dict)  # the issue/ticket/incident to comment on

    @property
    def request(self) -> CancelRequest:
        return CancelRequest(self.job_id, self.requester)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "thread": dict(self.thread)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CancelTask:
        data = json.loads(text)
        return cls(
            job_id=str(data["job_id"]),
            requester=Requester(**data["requester"]),
            reply_to=str(data["reply_to"]),
            request_id=str(data.get("request_id", "")),
            source=str(data.get("source") or "slack"),
            thread={str(k): str(v) for k, v in (data.get("thread") or {}).items()},
        )


class TaskQueue(Protocol):
    def send(self, task: CancelTask) -> None: ...

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Deliver a received task again after `seconds` instead of the queue's visibility timeout."""
        ...


def retry_delay_s(first_s: int, attempt: int, cap_s: int = 900) -> int:
    """Backoff for the attempt that just failed: first_s, 2 x first_s, 4 x first_s …, at most cap_s."""
    return min(first_s * 2 ** max(attempt - 1, 0), cap_s)


class HandoffFailed(Exception):
    """The task could not be queued: the caller must not be told it will be finished."""


class SqsTaskQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url
        self._client: Any = None

    def _sqs(self) -> Any:
        # boto3 only here, on the slow path: the fast path never pays for importing it.
        import boto3
        from botocore.config import Config

        if self._client is None:
            config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"})
            self._client = boto3.client("sqs", config=config)
        return self._client

    def send(self, task: CancelTask) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sqs().send_message(QueueUrl=self._url, MessageBody=task.to_json())
        except (BotoCoreError, ClientError) as exc:
            raise HandoffFailed(type(exc).__name__) from None

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sqs().change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except (BotoCoreError, ClientError) as exc:  # then the queue's visibility timeout applies
            raise HandoffFailed(type(exc).__name__) from None
