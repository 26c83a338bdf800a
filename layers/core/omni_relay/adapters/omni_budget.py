"""Omni's limit per key (60 requests a minute; Omni raises a key to 500 on request: the template's
OmniRequestsPerMinute), as one budget shared by every environment of the relay and the worker, spent
on people's cancels first.

Every call to Omni takes one request from the budget of the key it is made with (sliding_window.py:
never more than the limit in any 60 s), with its kind's priority: a kind may take a request only
while more than its share of the minute's budget is left free for the kinds above it.

| kind      | calls                                                    | may take while more than this is free |
|-----------|----------------------------------------------------------|---------------------------------------|
| `cancel`  | a person's cancel, relay or worker (and, owner-or-on-call, | nothing: the whole budget           |
|           | the look-ups it needs first)                             |                                       |
| `poll`    | follow-up polls of a stopping job (the end of a cancel:  | a sixth of the key's limit            |
|           | "I will say here when it has stopped"), one chain a job  |                                       |
| `status`  | `status`, Check again, a job link unfurled               | a third                               |
| `details` | the job's details after a cancel; the owner's notice's   | two thirds                            |
|           | reads (owner_notice.py)                                  |                                       |

A cancel the budget holds back is handed to the worker with a delay (the person is told when it
will be sent), never refused; the others are answered without the call (details left out, `status`
and polls told to wait). When the budget's table is out of reach, cancels go ahead (fail open: a
cancel is what the relay is for) and the rest wait (fail closed): logged and counted either way.
"""

from __future__ import annotations

import hashlib
import math
from enum import StrEnum
from functools import lru_cache

from omni_relay.adapters.omni import Admit, OmniPort, OmniReply
from omni_relay.adapters.sliding_window import WINDOW_S, Window
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import OmniHeldBack, WindowUnavailable
from omni_relay.observability import count, logger


class Kind(StrEnum):
    CANCEL = "cancel"
    STATUS = "status"
    POLL = "poll"
    DETAILS = "details"


# The share of the key's minute each kind leaves to the kinds above it (the table above).
LEAVES_FREE = {Kind.CANCEL: 0.0, Kind.POLL: 1 / 6, Kind.STATUS: 1 / 3, Kind.DETAILS: 2 / 3}


def reserve(kind: Kind, limit: int) -> int:
    return math.ceil(limit * LEAVES_FREE[kind])


@lru_cache(maxsize=256)
def key_id(token: str) -> str:
    """Which budget a token spends: a digest of it (Omni counts per key), never the key itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:20]


class OmniBudget:
    def __init__(self, window: Window) -> None:
        self._window = window

    @property
    def limit(self) -> int:
        return self._window.limit

    def take(self, kind: Kind, token: str) -> float:
        """0.0 when a call of `kind` with `token` may be made now (and it is counted); else the seconds
        until one may."""
        try:
            wait = self._window.take(key_id(token), reserve(kind, self.limit))
        except WindowUnavailable as exc:
            count("OmniBudgetUnavailable", kind=kind.value)
            going_ahead = kind is Kind.CANCEL
            logger.warning(
                "Omni budget unavailable: " + ("the cancel goes ahead" if going_ahead else "the call waits"),
                extra={"kind": kind.value, "reason": str(exc)},
            )
            return 0.0 if going_ahead else WINDOW_S
        if wait:
            count("OmniCallsHeldBack", kind=kind.value)
            if kind is Kind.CANCEL:
                count("OmniBudgetExhausted")  # one dimension (service), for OmniBudgetExhaustedAlarm
        else:
            count("OmniBudgetSpent", kind=kind.value)
        return wait


class BudgetedOmni:
    """An OmniPort whose every call (each retry too) takes from the budget as `kind`; OmniHeldBack
    when the first may not be made. `as_kind` gives the same port for another kind of call."""

    def __init__(self, omni: OmniPort, budget: OmniBudget | None, kind: Kind = Kind.CANCEL) -> None:
        self._omni = omni
        self.budget = budget
        self.kind = kind

    def as_kind(self, kind: Kind) -> BudgetedOmni:
        return self if kind is self.kind else BudgetedOmni(self._omni, self.budget, kind)

    def _admit(self, token: str) -> Admit | None:
        budget, kind = self.budget, self.kind
        if budget is None:
            return None
        if wait := budget.take(kind, token):
            raise OmniHeldBack(wait)
        return lambda: budget.take(kind, token)

    def cancel(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._omni.cancel(job_id, token, deadline, admit=self._admit(token))

    def status(self, job_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._omni.status(job_id, token, deadline, admit=self._admit(token))

    def find_user(self, email: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._omni.find_user(email, token, deadline, admit=self._admit(token))

    def user(self, user_id: str, token: str, deadline: Deadline, admit: Admit | None = None) -> OmniReply:
        return self._omni.user(user_id, token, deadline, admit=self._admit(token))
