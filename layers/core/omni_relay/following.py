"""Following a cancel until the job has really stopped.

Omni answers a cancel of an EXECUTING job at once but stops it only after its current step. The
relay then queues a follow task; the worker reads the job's status after a delay (SQS DelaySeconds:
no function sleeps), again with backoff while it runs, and when it is terminal tells the requester
once: "stopped: CANCELLED, 42 s after the request", or "finished before it could stop: COMPLETE".
Bounded: after FOLLOW_UP_MINUTES it says "still running" and stops; every poll takes from Omni's
budget for the key as a `poll` (omni_budget.py: only while a sixth of the minute is left for cancels).
One chain per job: a later cancel of a followed job joins it (wiring.follow_up), and its end tells all.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from omni_relay.deadline import Deadline
from omni_relay.domain import CancelOutcome, JobState, Outcome
from omni_relay.observability import count, logger
from omni_relay.omni_budget import Kind
from omni_relay.service import CancelService

# Seconds before poll 1, 2, 3, 4 and every later one: the first soon after a typical step ends.
POLL_DELAYS_S = (5, 10, 20, 30)
POLL_DEADLINE_S = 10.0
CAP_GRACE_S = 120.0  # how far past the cap a deferred poll may still poll (Slack's response_url lasts 30 minutes)
# What a follow ends with when Omni's answer is not a state: these keep following, the rest end it.
KEEP_FOLLOWING = frozenset({Outcome.OMNI_UNAVAILABLE, Outcome.OMNI_BUSY, Outcome.UNEXPECTED_REPLY})


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


def poll_delay_s(poll: int) -> int:
    return POLL_DELAYS_S[min(max(poll, 1), len(POLL_DELAYS_S)) - 1]


class FollowPorts(Protocol):
    service: CancelService
    now: Callable[[], float]

    @property
    def follow_up_s(self) -> float: ...

    def requeue(self, task: Any, follow: Follow, delay_s: int) -> None:
        """Queue `task` again with `follow` after `delay_s` (raises HandoffFailed when it cannot)."""
        ...

    def tell(self, task: Any, outcome: CancelOutcome) -> None: ...

    def followers(self, task: Any) -> list[Any]:
        """Everyone waiting on `task`'s job (one chain per job), which stops being followed now."""
        ...


def follow_step(ports: FollowPorts, task: Any, follow: Follow) -> str:
    """One step of following `task`'s job: poll once (or wait for Omni's budget) and then either tell
    the final state or queue the next poll. Returns what it did, for the log and the de-duplication record."""
    waited = ports.now() - follow.since
    if waited >= ports.follow_up_s + CAP_GRACE_S:
        # Deferred past the cap (the poll budget was taken by other follows): say so without polling,
        # while Slack's response_url still takes a post.
        return _tell(ports, task, follow, CancelOutcome(task.job_id, Outcome.STILL_RUNNING, after_s=waited))
    outcome = ports.service.status(task.request, Deadline.within(POLL_DEADLINE_S), Kind.POLL)
    elapsed = ports.now() - follow.since
    if outcome.outcome is Outcome.OMNI_BUSY and elapsed < ports.follow_up_s:
        # The budget held the poll back (people's cancels come first), or Omni answered 429: wait for room.
        return _defer(ports, task, follow, outcome.retry_after_s or 60 - ports.now() % 60)
    count("FollowPolls")
    final = _final(outcome, follow.since, elapsed)
    if final is None and elapsed >= ports.follow_up_s:
        # Still running at the cap: the last word, with what the last poll showed (the link among it).
        shown = outcome if outcome.outcome is Outcome.STATUS else CancelOutcome(task.job_id, Outcome.STATUS)
        final = replace(shown, outcome=Outcome.STILL_RUNNING, after_s=elapsed)
    if final is None:
        ports.requeue(task, replace(follow, poll=follow.poll + 1, deferred=0), poll_delay_s(follow.poll + 1))
        return "polled"
    return _tell(ports, task, follow, final)


def _tell(ports: FollowPorts, task: Any, follow: Follow, final: CancelOutcome) -> str:
    logger.info("follow-through finished", extra={"outcome": final.outcome.value, "polls": follow.poll})
    count("FollowThroughs", outcome=final.outcome.value)
    ports.service.settled(task.request, final)
    for waiting in ports.followers(task):
        ports.tell(waiting, final)
    return final.outcome.value


def _defer(ports: FollowPorts, task: Any, follow: Follow, wait_s: float) -> str:
    """The same poll again after `wait_s` and up to 10 s more, so deferred polls do not arrive together."""
    delay = min(math.ceil(wait_s) + random.randint(0, 10), 900)  # noqa: S311 (spreading, not secrecy)
    ports.requeue(task, replace(follow, deferred=follow.deferred + 1), delay)
    count("FollowPollsDeferred")
    return "deferred"


def _final(outcome: CancelOutcome, since: float, elapsed: float) -> CancelOutcome | None:
    """The last word when the job is terminal (or following cannot go on); None to keep following."""
    if outcome.outcome is Outcome.STATUS and outcome.state is not None and outcome.state.terminal:
        stopped = outcome.state is JobState.CANCELLED
        at = outcome.details.cancelled_at if outcome.details else None
        if stopped and at and 0 <= at - since <= elapsed:  # Omni's own time of the stop, when it is plausible
            elapsed = at - since
        return replace(outcome, outcome=Outcome.STOPPED if stopped else Outcome.FINISHED_FIRST, after_s=elapsed)
    if outcome.outcome is Outcome.STATUS or outcome.outcome in KEEP_FOLLOWING:
        return None
    logger.warning("follow-through ended: Omni refused the status", extra={"outcome": outcome.outcome.value})
    return outcome  # forbidden, not found, key rejected …: said once, as for a cancel
