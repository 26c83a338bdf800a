"""The tasks the relay hands to the worker through the queue: a cancel to finish, a job to follow
(`follow`), or an owner to tell (`notice`); and the queue's interface (sqs_queue.py is SQS's)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from omni_relay.domain.identity import Requester
from omni_relay.domain.model import CancelRequest, ReplyTarget


@dataclass(frozen=True)
class Follow:
    """Where a followed cancel is: requested at `since` (epoch s), about to make poll number `poll`;
    `deferred` counts the times this poll waited for the poll budget."""

    since: float
    poll: int = 1
    deferred: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "poll": self.poll, "deferred": self.deferred}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Follow:
        return cls(float(data["since"]), int(data.get("poll", 1)), int(data.get("deferred", 0)))

    @property
    def step(self) -> str:
        """This step's name for de-duplication: a redelivered step is not repeated."""
        return f"{self.poll}.{self.deferred}"


@dataclass(frozen=True)
class Notice:
    """A cancel the job's owner is to be told about (owner_notice.py): when Omni accepted it, and what
    the relay already knew of the job (its owner, prompt and link), so the worker need not ask again."""

    at: float
    owner: str = ""
    prompt: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notice:
        return cls(float(data.get("at") or 0), *(str(data.get(k) or "") for k in ("owner", "prompt", "link")))


@dataclass(frozen=True)
class CancelTask:
    """Everything the worker needs to finish (and a redrive to repeat) one accepted cancel, or, with
    `follow`, to follow a cancel Omni accepted until the job has stopped, or, with `notice`, to tell
    the job's owner who cancelled it."""

    job_id: str
    requester: Requester
    reply: ReplyTarget
    request_id: str = ""
    follow: Follow | None = None
    reason: str = ""
    where: str = ""
    notice: Notice | None = None

    @classmethod
    def of(cls, request: CancelRequest, reply: ReplyTarget, request_id: str) -> CancelTask:
        return cls(request.job_id, request.requester, reply, request_id, reason=request.reason, where=request.where)

    @property
    def request(self) -> CancelRequest:
        return CancelRequest(self.job_id, self.requester, self.reason, self.where)

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
        if self.reason:
            data["reason"] = self.reason
        if self.where:
            data["where"] = self.where
        if self.notice is not None:
            data["notice"] = self.notice.to_dict()
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
            reason=str(data.get("reason") or ""),
            where=str(data.get("where") or ""),
            notice=Notice.from_dict(data["notice"]) if isinstance(data.get("notice"), dict) else None,
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
