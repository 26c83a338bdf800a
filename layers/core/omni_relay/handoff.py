"""Handing a cancel that cannot finish within the caller's deadline to the worker, through SQS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from omni_relay.domain import CancelRequest, ReplyTarget
from omni_relay.following import Follow
from omni_relay.identity import Requester


@dataclass(frozen=True)
class CancelTask:
    """Everything the worker needs to finish (and a redrive to repeat) one accepted cancel, or, with
    `follow`, to follow a cancel Omni accepted until the job has stopped."""

    job_id: str
    requester: Requester
    reply: ReplyTarget
    request_id: str = ""
    follow: Follow | None = None

    @property
    def request(self) -> CancelRequest:
        return CancelRequest(self.job_id, self.requester)

    @property
    def source(self) -> str:
        return self.requester.source

    def to_json(self) -> str:
        data = {
            "job_id": self.job_id,
            "requester": self.requester.to_dict(),
            "reply": self.reply.to_dict(),
            "request_id": self.request_id,
        }
        if self.follow is not None:
            data["follow"] = self.follow.to_dict()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CancelTask:
        data = json.loads(text)
        requester = dict(data["requester"])
        if "reply" in data:
            reply = ReplyTarget.from_dict(data["reply"])
        else:  # a task queued before: reply_to (Slack's response_url), thread, and the source beside them
            requester.setdefault("source", data.get("source") or "slack")
            reply = ReplyTarget.from_dict({"url": data.get("reply_to"), "thread": data.get("thread")})
        return cls(
            job_id=str(data["job_id"]),
            requester=Requester.from_dict(requester),
            reply=reply,
            request_id=str(data.get("request_id", "")),
            follow=Follow.from_dict(data["follow"]) if isinstance(data.get("follow"), dict) else None,
        )


class TaskQueue(Protocol):
    def send(self, task: CancelTask, delay_s: int = 0) -> None:
        """Queue `task`, delivered after `delay_s` (at most 900, SQS's DelaySeconds)."""
        ...

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

    def send(self, task: CancelTask, delay_s: int = 0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._sqs().send_message(
                QueueUrl=self._url, MessageBody=task.to_json(), DelaySeconds=max(0, min(int(delay_s), 900))
            )
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
