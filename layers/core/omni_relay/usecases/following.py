"""Following a cancel until the job has really stopped.

Omni answers a cancel of an EXECUTING job at once but stops it only after its current step. The
relay then queues a follow task; the worker reads the job's status after a delay (SQS DelaySeconds:
no function sleeps), again with backoff while it runs, and when it is terminal tells the requester
once: "stopped: CANCELLED, 42 s after the request", or "finished before it could stop: COMPLETE".
Bounded: after FOLLOW_UP_MINUTES it says "still running" and stops; every poll takes from Omni's
budget for the key as a `poll` (omni_budget.py: only while a sixth of the minute is left for cancels).
One chain per job: a later cancel of a followed job joins it (Following.start), and its end tells all.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from omni_relay.adapters.omni_budget import Kind
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.model import CancelOutcome, JobState, Outcome
from omni_relay.domain.tasks import CancelTask, Follow
from omni_relay.observability import count, logger
from omni_relay.usecases.authorized_omni import AuthorizedOmni

if TYPE_CHECKING:
    from omni_relay.adapters.job_records import JobRecords
    from omni_relay.usecases.handoff import Handoff
    from omni_relay.usecases.later import LaterResults

# Seconds before poll 1, 2, 3, 4 and every later one: the first soon after a typical step ends.
POLL_DELAYS_S = (5, 10, 20, 30)
POLL_DEADLINE_S = 10.0
CAP_GRACE_S = 120.0  # how far past the cap a deferred poll may still poll (Slack's response_url lasts 30 minutes)
# What a follow ends with when Omni's answer is not a state: these keep following, the rest end it.
KEEP_FOLLOWING = frozenset({Outcome.OMNI_UNAVAILABLE, Outcome.OMNI_BUSY, Outcome.UNEXPECTED_REPLY})


def poll_delay_s(poll: int) -> int:
    return POLL_DELAYS_S[min(max(poll, 1), len(POLL_DELAYS_S)) - 1]


class Following:
    def __init__(
        self,
        authorized: AuthorizedOmni,
        records: JobRecords,
        handoff: Handoff,
        later: LaterResults,
        *,
        follow_up_s: float,
        now: Callable[[], float],
    ) -> None:
        self._authorized = authorized
        self._records = records  # one chain per job: who waits on it (job_records.py)
        self._handoff = handoff
        self._later = later
        self.follow_up_s = follow_up_s  # 0: nothing is followed
        self._now = now

    def start(self, task: CancelTask) -> bool:
        """Follow `task`'s job until it has stopped: join the job's chain when one is running (one
        chain per job, whoever asked), else queue its first poll. False when nothing will follow it."""
        if not self.follow_up_s:
            return False
        if not self._records.join(task.job_id, task.to_json(), self.follow_up_s + CAP_GRACE_S):
            count("FollowUpsJoined")
            return True
        if self._handoff.send(replace(task, follow=Follow(since=self._now())), delay_s=poll_delay_s(1)):
            return True
        self._records.followers(task.job_id)  # nothing follows the job: the next cancel starts a chain
        return False

    def waiting_on(self, task: CancelTask) -> list[CancelTask]:
        """Everyone waiting on `task`'s follow-up chain, which ends now (at least `task` itself)."""
        waiting = [task]
        for text in self._records.followers(task.job_id):
            try:
                other = CancelTask.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue
            if all((other.reply, other.source) != (w.reply, w.source) for w in waiting):
                waiting.append(other)
        return waiting

    def step(self, task: CancelTask, follow: Follow) -> str:
        """One step of following `task`'s job: poll once (or wait for Omni's budget) and then either tell
        the final state or queue the next poll. Returns what it did, for the log and the de-duplication record."""
        waited = self._now() - follow.since
        if waited >= self.follow_up_s + CAP_GRACE_S:
            # Deferred past the cap (the poll budget was taken by other follows): say so without polling,
            # while Slack's response_url still takes a post.
            return self._tell(task, follow, CancelOutcome(task.job_id, Outcome.STILL_RUNNING, after_s=waited))
        outcome = self._authorized.status(task.request, Deadline.within(POLL_DEADLINE_S), Kind.POLL)
        elapsed = self._now() - follow.since
        if outcome.kind is Outcome.OMNI_BUSY and elapsed < self.follow_up_s:
            # The budget held the poll back (people's cancels come first), or Omni answered 429: wait for room.
            return self._defer(task, follow, outcome.retry_after_s or 60 - self._now() % 60)
        count("FollowPolls")
        final = _final(outcome, follow.since, elapsed)
        if final is None and elapsed >= self.follow_up_s:
            # Still running at the cap: the last word, with what the last poll showed (the link among it).
            shown = outcome if outcome.kind is Outcome.STATUS else CancelOutcome(task.job_id, Outcome.STATUS)
            final = replace(shown, kind=Outcome.STILL_RUNNING, after_s=elapsed)
        if final is None:
            next_poll = replace(follow, poll=follow.poll + 1, deferred=0)
            self._handoff.again(replace(task, follow=next_poll), poll_delay_s(follow.poll + 1))
            return "polled"
        return self._tell(task, follow, final)

    def _tell(self, task: CancelTask, follow: Follow, final: CancelOutcome) -> str:
        logger.info("follow-through finished", extra={"outcome": final.kind.value, "polls": follow.poll})
        count("FollowThroughs", outcome=final.kind.value)
        self._authorized.settled(task.request, final)
        for waiting in self.waiting_on(task):
            self._later.tell(waiting, final)
        return final.kind.value

    def _defer(self, task: CancelTask, follow: Follow, wait_s: float) -> str:
        """The same poll again after `wait_s` and up to 10 s more, so deferred polls do not arrive together."""
        delay = min(math.ceil(wait_s) + random.randint(0, 10), 900)  # noqa: S311 (spreading, not secrecy)
        self._handoff.again(replace(task, follow=replace(follow, deferred=follow.deferred + 1)), delay)
        count("FollowPollsDeferred")
        return "deferred"


def _final(outcome: CancelOutcome, since: float, elapsed: float) -> CancelOutcome | None:
    """The last word when the job is terminal (or following cannot go on); None to keep following."""
    if outcome.kind is Outcome.STATUS and outcome.state is not None and outcome.state.terminal:
        stopped = outcome.state is JobState.CANCELLED
        at = outcome.job.cancelled_at if outcome.job else None
        if stopped and at and 0 <= at - since <= elapsed:  # Omni's own time of the stop, when it is plausible
            elapsed = at - since
        return replace(outcome, kind=Outcome.STOPPED if stopped else Outcome.FINISHED_FIRST, after_s=elapsed)
    if outcome.kind is Outcome.STATUS or outcome.kind in KEEP_FOLLOWING:
        return None
    logger.warning("follow-through ended: Omni refused the status", extra={"outcome": outcome.kind.value})
    return outcome  # forbidden, not found, key rejected …: said once, as for a cancel
