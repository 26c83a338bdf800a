"""What the relay knows of the jobs it cancelled in the last minutes, shared by every environment of
both functions (one item per job in the idempotency table, expiring with its TTL):

- Omni's last word on a job (cancelled, already finished, stopping while it is followed), so that a
  repeated cancel of it is answered from here without calling Omni again. Only for a cancel made with
  the same key: another key's answer (a personal token, whose owner rule is Omni's) is Omni's to give.
- While a stopping job is followed, who waits to hear that it stopped: one follow-up chain per job,
  which every later cancel of it joins, and whose end tells all of them.

When the table is out of reach the relay does without: it calls Omni, and a follow starts its own chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from omni_relay.adapters import dynamo
from omni_relay.adapters.ttl_cache import TtlCache
from omni_relay.domain.model import CancelOutcome, JobDetails, JobState, Outcome
from omni_relay.observability import count, logger

RECENT_S = 300  # how long Omni's final answer on a job is the relay's answer too
FROM_RECORD = "answered from the relay's record"  # the detail (for logs) of an answer kept here
ASKING_S = 2.0  # how long a cancel asking Omni holds the job: the same cancels meanwhile wait for its answer
# How each answer is kept, as a repeated cancel of the job is to be answered.
_KEPT_AS = {
    Outcome.CANCELLED: Outcome.ALREADY_CANCELLED,
    Outcome.ALREADY_CANCELLED: Outcome.ALREADY_CANCELLED,
    Outcome.STOPPED: Outcome.ALREADY_CANCELLED,
    Outcome.ALREADY_FINISHED: Outcome.ALREADY_FINISHED,
    Outcome.FINISHED_FIRST: Outcome.ALREADY_FINISHED,
    Outcome.STOPPING: Outcome.STOPPING,  # only while the job is followed
}


def keeps(outcome: CancelOutcome) -> bool:
    return outcome.kind in _KEPT_AS and (outcome.kind is not Outcome.STOPPING or outcome.following)


def as_kept(outcome: CancelOutcome, now: float) -> CancelOutcome | None:
    """`outcome` as a later cancel of the job is answered, or None when it is not kept."""
    if not keeps(outcome):
        return None
    kept = _KEPT_AS[outcome.kind]
    details = outcome.job
    state = outcome.state
    if kept is Outcome.ALREADY_CANCELLED:
        state = JobState.CANCELLED
        if details is None or not details.cancelled_at:
            details = replace(details or JobDetails(), cancelled_at=outcome.at or now)
    return CancelOutcome(outcome.job_id, kept, state, FROM_RECORD, job=details, at=now)


class JobRecords(Protocol):
    def recent(self, job_id: str, key: str) -> CancelOutcome | None:
        """The kept answer on `job_id` for a cancel with `key` (omni_budget.key_id), or None."""
        ...

    def begin(self, job_id: str, key: str) -> tuple[CancelOutcome | None, bool]:
        """Before a cancel asks Omni: the kept answer for `key`, if any; else whether another request is
        asking Omni about the job right now (its answer will be kept). Marks this one as asking."""
        ...

    def release(self, job_id: str) -> None:
        """The cancel that began asking has no answer to keep: the next one asks Omni itself."""
        ...

    def remember(self, outcome: CancelOutcome, key: str, ttl_s: float = RECENT_S) -> None:
        """Keep Omni's answer on the job (and the cancel that asked is done asking)."""
        ...

    def join(self, job_id: str, follower: str, ttl_s: float) -> bool:
        """Add `follower` (a task as JSON) to the job's follow-up chain; True when there was none
        running (the caller starts it), False when it joined one."""
        ...

    def followers(self, job_id: str) -> list[str]:
        """Everyone who waits on the job's chain, which ends here (a later cancel starts a new one)."""
        ...


class LocalJobRecords:
    """The same records in this execution environment only (no table configured, and unit tests)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._answers = TtlCache(RECENT_S, 5000, now)  # ttl per entry below
        self._chains: dict[str, tuple[float, list[str]]] = {}
        self._asking: dict[str, float] = {}

    def recent(self, job_id: str, key: str) -> CancelOutcome | None:
        found = self._answers.get((job_id, key))
        if not isinstance(found, tuple) or found[0] <= self._now():
            return None
        return replace(found[1], at=self._now())

    def begin(self, job_id: str, key: str) -> tuple[CancelOutcome | None, bool]:
        known = self.recent(job_id, key)
        asking = known is None and self._asking.get(job_id, 0.0) > self._now()
        self._asking[job_id] = self._now() + ASKING_S
        return known, asking

    def release(self, job_id: str) -> None:
        self._asking.pop(job_id, None)

    def remember(self, outcome: CancelOutcome, key: str, ttl_s: float = RECENT_S) -> None:
        self.release(outcome.job_id)
        kept = as_kept(outcome, self._now())
        if kept is not None:
            self._answers.put((outcome.job_id, key), (self._now() + ttl_s, kept))

    def join(self, job_id: str, follower: str, ttl_s: float) -> bool:
        until, waiting = self._chains.get(job_id, (0.0, []))
        if until > self._now():
            waiting.append(follower)
            return False
        self._chains[job_id] = (self._now() + ttl_s, [follower])
        return True

    def followers(self, job_id: str) -> list[str]:
        return self._chains.pop(job_id, (0.0, []))[1]


# Every attribute by a placeholder name: several are DynamoDB reserved words.
_NAMES = {
    "#outcome": "outcome",
    "#key": "key",
    "#until": "until",
    "#expires": "expiration",
    "#followers": "followers",
    "#following": "following_until",
    "#asking": "asking_until",
}


class DynamoJobRecords:
    def __init__(self, table: str, now: Callable[[], float] = time.time) -> None:
        self._table = table
        self._now = now

    def _key(self, job_id: str) -> dict[str, Any]:
        return {"id": {"S": f"job#{job_id}"}}

    def _update(
        self, job_id: str, expression: str, condition: str = "", returns: str = "UPDATED_OLD", **values: Any
    ) -> dict[str, Any]:
        """One atomic update of the job's item; its attributes before, as far as the update changed them."""
        said = expression + condition
        extra: dict[str, Any] = {"ConditionExpression": condition} if condition else {}
        if values:
            extra["ExpressionAttributeValues"] = {f":{name}": value for name, value in values.items()}
        response = dynamo.client().update_item(
            TableName=self._table,
            Key=self._key(job_id),
            UpdateExpression=expression,
            ExpressionAttributeNames={name: value for name, value in _NAMES.items() if name in said},
            ReturnValues=returns,
            **extra,
        )
        return dict(response.get("Attributes") or {})

    def recent(self, job_id: str, key: str) -> CancelOutcome | None:
        try:
            item = dynamo.client().get_item(TableName=self._table, Key=self._key(job_id), ConsistentRead=True)
        except dynamo.errors() as exc:
            return _unavailable("read", exc, None)
        return self._kept(item.get("Item") or {}, key)

    def begin(self, job_id: str, key: str) -> tuple[CancelOutcome | None, bool]:
        # One write that reads too: the item as it was says what is kept and who else is asking.
        now = self._now()
        try:
            old = self._update(
                job_id,
                "SET #asking = :asking, #expires = if_not_exists(#expires, :expires)",
                returns="ALL_OLD",
                asking={"N": repr(now + ASKING_S)},
                expires={"N": str(int(now + RECENT_S + 3600))},
            )
        except dynamo.errors() as exc:
            return _unavailable("read", exc, (None, False))
        known = self._kept(old, key)
        return known, known is None and float(old.get("asking_until", {}).get("N", 0)) > now

    def release(self, job_id: str) -> None:
        try:
            self._update(job_id, "REMOVE #asking", "attribute_exists(id)")
        except dynamo.errors() as exc:
            if not dynamo.refused(exc):
                _unavailable("release", exc, None)

    def _kept(self, found: dict[str, Any], key: str) -> CancelOutcome | None:
        if found.get("key", {}).get("S") != key or float(found.get("until", {}).get("N", 0)) <= self._now():
            return None
        try:
            kept = CancelOutcome.from_record(json.loads(found["outcome"]["S"]))
        except (KeyError, ValueError, TypeError):
            return None
        return replace(kept, at=self._now())

    def remember(self, outcome: CancelOutcome, key: str, ttl_s: float = RECENT_S) -> None:
        now = self._now()
        kept = as_kept(outcome, now)
        if kept is None:
            self.release(outcome.job_id)
            return
        until = now + ttl_s
        try:
            self._update(
                outcome.job_id,
                "SET #outcome = :outcome, #key = :key, #until = :until, #expires = :expires REMOVE #asking",
                outcome={"S": json.dumps(kept.to_record())},
                key={"S": key},
                until={"N": repr(until)},
                expires={"N": str(int(until + 3600))},
            )
        except dynamo.errors() as exc:
            _unavailable("write", exc, None)

    def join(self, job_id: str, follower: str, ttl_s: float) -> bool:
        now, one = self._now(), {"L": [{"S": follower}]}
        until = {"N": repr(now + ttl_s)}
        for _ in range(3):
            try:
                self._update(
                    job_id,
                    "SET #followers = list_append(#followers, :one)",
                    "#following > :now",
                    one=one,
                    now={"N": repr(now)},
                )
                return False
            except dynamo.errors() as exc:
                if not dynamo.refused(exc):
                    return _unavailable("join", exc, True)
            try:  # no chain running: this one starts it, unless another environment just did
                self._update(
                    job_id,
                    "SET #followers = :one, #following = :until, #expires = :expires",
                    "attribute_not_exists(#following) OR #following <= :now",
                    one=one,
                    until=until,
                    now={"N": repr(now)},
                    expires={"N": str(int(now + ttl_s + 3600))},
                )
                return True
            except dynamo.errors() as exc:
                if not dynamo.refused(exc):
                    return _unavailable("join", exc, True)
        return True

    def followers(self, job_id: str) -> list[str]:
        try:
            old = self._update(job_id, "REMOVE #followers, #following", "attribute_exists(id)")
        except dynamo.errors() as exc:
            return [] if dynamo.refused(exc) else _unavailable("end the chain", exc, [])
        return [value["S"] for value in old.get("followers", {}).get("L", []) if "S" in value]


def _unavailable(what: str, exc: Exception, fallback: Any) -> Any:
    count("JobRecordsUnavailable")
    logger.warning("job records unavailable: doing without", extra={"action": what, "reason": type(exc).__name__})
    return fallback


def default_job_records(table: str, now: Callable[[], float] = time.time) -> JobRecords:
    return DynamoJobRecords(table, now) if table else LocalJobRecords(now)
