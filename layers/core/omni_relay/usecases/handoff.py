"""Handing work to the worker through the task queue: a cancel that cannot finish within the
caller's deadline, a job to follow, a task brought back sooner, and the job owner's notice.

Only what the relay can keep is promised: no queue, or a reply URL on a host that is not allowed,
and the caller is told what is known now instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from omni_relay.adapters.postback import AllowedHosts
from omni_relay.domain.model import CancelOutcome, Outcome, ReplyTarget
from omni_relay.domain.tasks import CancelTask, Notice, TaskQueue
from omni_relay.errors import QueueFailed
from omni_relay.observability import count, logger


class Handoff:
    def __init__(
        self, queue: TaskQueue | None, allowed: AllowedHosts, now: Callable[[], float], *, notify_owner: bool
    ) -> None:
        self.queue = queue
        self._allowed = allowed
        self._now = now
        self._notify_owner = notify_owner

    def send(self, task: CancelTask, delay_s: int = 0) -> bool:
        """Queue `task` for the worker (a cancel to finish, or with `follow` a job to follow). False
        when the relay cannot promise a post-back."""
        if self.queue is None:
            return False
        if task.reply.url and not self._allowed.allows(task.reply.url):
            logger.warning("no hand-off: reply URL host not allowed", extra={"job_id": task.job_id})
            return False
        try:
            self.queue.send(task, delay_s=delay_s)
        except QueueFailed as exc:
            logger.error("hand-off to the queue failed", extra={"job_id": task.job_id, "reason": str(exc)})
            count("HandoffFailures")
            return False
        count("Handoffs" if task.follow is None else "FollowUps")
        return True

    def again(self, task: CancelTask, delay_s: int) -> None:
        """Queue the next step of `task` (a follow's next poll); QueueFailed when it cannot be queued."""
        if self.queue is None:
            raise QueueFailed("no task queue")
        self.queue.send(task, delay_s=delay_s)

    def sooner(self, receipt_handle: str, delay_s: int) -> None:
        """Deliver a received task again after `delay_s` instead of the queue's visibility timeout; when
        the queue does not take it, the visibility timeout applies."""
        if self.queue is None:
            return
        try:
            self.queue.retry_in(receipt_handle, delay_s)
        except QueueFailed as exc:
            logger.warning("could not shorten the retry delay", extra={"reason": str(exc)})

    def notice_for(self, task: CancelTask, outcome: CancelOutcome) -> CancelTask | None:
        """The task that tells the job's owner about this cancel (owner_notice.py); None: nothing to tell."""
        if not self._notify_owner or outcome.kind not in (Outcome.CANCELLED, Outcome.STOPPING):
            return None
        details = outcome.job
        known = (details.owner_id, details.prompt, details.chat_url) if details else ("", "", "")
        return replace(task, reply=ReplyTarget(), follow=None, notice=Notice(self._now(), *known))

    def tell_owner_later(self, task: CancelTask, outcome: CancelOutcome) -> None:
        """Queue the owner's notice for the worker: the requester's answer never waits for it. Never raises."""
        notice = self.notice_for(task, outcome)
        if notice is None:
            return
        if self.queue is None:
            logger.warning("owner not told: no task queue", extra={"job_id": task.job_id})
            count("OwnerNotices", outcome="no_queue")
            return
        try:
            self.queue.send(notice)
        except QueueFailed as exc:
            logger.warning("owner not told: the notice could not be queued", extra={"reason": str(exc)})
            count("OwnerNotices", outcome="not_queued")
