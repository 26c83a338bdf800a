"""Omni, asked on a requester's behalf under the relay's rules: authorize (the sender's policy, the
credential, owner-or-on-call), call Omni within its budget, read its reply (omni_replies.py), and
remember recent answers. No HTTP or Slack here; the use cases (cancelling.py, following.py) call it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from omni_relay.adapters.job_records import ASKING_S, FROM_RECORD, RECENT_S, JobRecords
from omni_relay.adapters.omni import OmniPort, OmniReply
from omni_relay.adapters.omni_budget import BudgetedOmni, Kind, key_id
from omni_relay.adapters.omni_replies import interpret, job_details
from omni_relay.adapters.secret_store import SecretStore
from omni_relay.domain.credentials import OmniCredentials
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Requester
from omni_relay.domain.jobref import is_job_id
from omni_relay.domain.model import CancelOutcome, CancelRequest, JobDetails, Outcome
from omni_relay.errors import NotAllowed, OmniHeldBack, OmniUnavailable, SecretsUnavailable
from omni_relay.observability import count, logger
from omni_relay.usecases.auth import SenderPolicy, choose_token

# After a cancel, Omni's job status is read only with this much of the caller's deadline left: the
# cancel's answer always comes first; the details (prompt, age, link) only when they fit.
DETAILS_MIN_S = 0.4
# Omni's cancelledAt this long before the request: it was cancelled before, not by this request
# (the margin absorbs clock skew between Omni and the relay).
ALREADY_CANCELLED_MARGIN_S = 5.0
# Time kept for asking Omni when waiting for another request's answer on the same job did not bring it.
WAIT_RESERVE_S = 1.0
# Outcomes whose message shows the job's details (the others are errors about the request or Omni).
DETAILED = frozenset({Outcome.CANCELLED, Outcome.ALREADY_FINISHED, Outcome.STOPPING, Outcome.NOT_CANCELLABLE})


class OwnershipRule(Protocol):
    """Owner-or-on-call (ownership.py): the job's details when the requester may cancel it with the
    org key, NotAllowed otherwise."""

    def check(
        self, requester: Requester, job_id: str, credentials: OmniCredentials, trusted: bool, deadline: Deadline
    ) -> JobDetails: ...


class AuthorizedOmni:
    def __init__(
        self,
        omni: OmniPort,
        secrets: SecretStore,
        omni_secret_id: str,
        policy_for: Callable[[str], SenderPolicy],
        *,
        records: JobRecords | None = None,
        follow_s: float = 0.0,
        ownership: OwnershipRule | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        # Every call takes from Omni's budget for its key, as its kind (omni_budget.py); a bare port: no budget.
        self._omni = omni if isinstance(omni, BudgetedOmni) else BudgetedOmni(omni, None)
        self._policy_for = policy_for  # the requester's source picks its policy, here only
        self._secrets = secrets
        self._omni_secret_id = omni_secret_id
        self._records = records  # what the relay knows of recent jobs: repeated cancels answered from it
        self._follow_s = follow_s  # how long a stopping job is followed (its record lasts as long)
        self._ownership = ownership  # None: the allow-list alone decides who uses the org key
        self._now = now
        self._credentials: tuple[object, OmniCredentials] | None = None

    def credentials(self, *, force: bool = False) -> OmniCredentials:
        value = self._secrets.get_json(self._omni_secret_id, force=force)
        # A caching store hands back the same object until it reads the secret again: parse it once.
        if self._credentials is None or self._credentials[0] is not value:
            parsed = OmniCredentials.from_secret(self._omni_secret_id, value)
            for problem in parsed.problems:
                logger.error("Omni secret entry needs the operator", extra={"why": problem})
                count("SetupIncomplete", reason="identity_entry")
            self._credentials = (value, parsed)
        return self._credentials[1]

    def cancel(self, request: CancelRequest, deadline: Deadline) -> CancelOutcome:
        """Cancel first (in owner-or-on-call mode, after the status that names the owner); then, when
        time and the details budget allow, Omni's status of the job for the message (what is being
        cancelled, and whether it had been cancelled before)."""
        asked_at = self._now()
        outcome, token = self._run(request, deadline, lookup=False)
        details = outcome.job or self._details(request.job_id, token, outcome, deadline)
        if details is not None:
            cancelled_before = details.cancelled_at and details.cancelled_at < asked_at - ALREADY_CANCELLED_MARGIN_S
            if outcome.kind is Outcome.CANCELLED and cancelled_before:
                outcome = replace(outcome, kind=Outcome.ALREADY_CANCELLED)
            outcome = replace(outcome, job=details, at=self._now())
        if self._records is not None:
            # Omni's answer as Omni gave it, kept for repeated cancels of the job (a stopping one while
            # it is followed); each requester is shown what they may see of it.
            if token is not None and outcome.kind is not Outcome.STOPPING:
                self._records.remember(outcome, key_id(token), RECENT_S)
            elif token is not None and self._follow_s:
                self._records.remember(replace(outcome, following=True), key_id(token), self._follow_s)
            elif outcome.detail != FROM_RECORD:
                self._records.release(request.job_id)  # nothing to keep: the next cancel asks Omni
        if outcome.job is not None:
            outcome = replace(outcome, job=self._seen(request.requester, outcome.job))
        return outcome

    def settled(self, request: CancelRequest, outcome: CancelOutcome) -> None:
        """A followed job's last word (stopped, finished first), kept for repeated cancels of it as
        Omni's own answers are."""
        if self._records is None:
            return
        try:
            token = choose_token(request.requester, self.credentials(), self._policy_for(request.requester.source))
        except (NotAllowed, SecretsUnavailable):
            return
        self._records.remember(outcome, key_id(token), RECENT_S)

    def _details(self, job_id: str, token: str | None, outcome: CancelOutcome, deadline: Deadline) -> JobDetails | None:
        """Omni's status of the job after a cancel, only as time and Omni's budget allow (details come last)."""
        if token is None or outcome.kind not in DETAILED or deadline.remaining() < DETAILS_MIN_S:
            return None
        try:
            reply = self._omni.as_kind(Kind.DETAILS).status(job_id, token, deadline)
        except OmniUnavailable:  # held back by the budget too: the cancel's answer goes without them
            return None
        return job_details(reply.body) if reply.status == 200 and reply.is_json else None

    def status(self, request: CancelRequest, deadline: Deadline, kind: Kind = Kind.STATUS) -> CancelOutcome:
        """The job's current state and details, with the same authorization as a cancel. Read-only.
        `kind`: whose read it is, for Omni's budget (a person's `status`, or a follow-up poll)."""
        outcome = self._run(request, deadline, lookup=True, kind=kind)[0]
        if not outcome.job:
            return outcome
        return replace(outcome, job=self._seen(request.requester, outcome.job), at=self._now())

    def _authorize(
        self, request: CancelRequest, policy: SenderPolicy, deadline: Deadline, lookup: bool, *, force: bool = False
    ) -> tuple[str, JobDetails | None]:
        """The token to call Omni with, and in owner-or-on-call mode the job's details from the check
        that the requester may use the org key on it. NotAllowed when they may not."""
        credentials = self.credentials(force=force)
        token = choose_token(request.requester, credentials, policy)
        if self._ownership is None or (token != credentials.api_key and not lookup):
            return token, None  # a person's own token cancels under Omni's own rule
        # Looking (status, Check again) follows the same rule as cancelling, whatever the token: Omni
        # lets any token of the org read a job.
        trusted = policy.trusts_identity(request.requester)
        return token, self._ownership.check(request.requester, request.job_id, credentials, trusted, deadline)

    def _seen(self, requester: Requester, details: JobDetails) -> JobDetails:
        """What of a job the place the request came from may show. In owner-or-on-call mode only the
        owner and on-call may read a job, so a webhook's thread (read by everyone on the issue, ticket or
        incident) gets no prompt, progress, link or error; Slack's replies are the person's own."""
        details = seen_by(requester, details)
        if self._ownership is None or requester.source == "slack":
            return details
        return replace(details, prompt="", progress="", chat_url="", error="")

    def _refusal(self, requester: Requester, denied: NotAllowed, job_id: str) -> CancelOutcome:
        """The relay's own no, logged and counted; it may say whose job it is, never what it is doing."""
        refused_for(requester, denied, job_id)
        refused = CancelOutcome(job_id, denied.outcome, detail=denied.reason, why=denied.why)
        if denied.job is None:
            return refused
        shown = replace(seen_by(requester, denied.job), prompt="", progress="", chat_url="", error="")
        return replace(refused, job=shown, at=self._now())

    def _run(
        self, request: CancelRequest, deadline: Deadline, lookup: bool, kind: Kind = Kind.CANCEL
    ) -> tuple[CancelOutcome, str | None]:
        """The outcome, and the token Omni accepted (None when Omni was not reached or refused it)."""
        job_id = request.job_id
        policy = self._policy_for(request.requester.source)
        if not is_job_id(job_id):
            return CancelOutcome(job_id, Outcome.INVALID_JOB_ID, detail="not a UUID"), None
        try:
            token, checked = self._authorize(request, policy, deadline, lookup)
        except SecretsUnavailable as exc:
            logger.error("cannot read the Omni secret", extra={"job_id": job_id, "reason": str(exc)})
            return CancelOutcome(job_id, Outcome.SETTINGS_UNAVAILABLE, detail=str(exc)), None
        except NotAllowed as denied:
            return self._refusal(request.requester, denied, job_id), None
        known = None
        if not lookup and self._records is not None:
            known, asking = self._records.begin(job_id, key_id(token))
            if known is None and asking:  # the same cancel, sent a moment before: its answer will do
                known = self._answer_of_another(job_id, key_id(token), deadline)
        if known is not None:  # cancelled or finished moments ago: Omni is not asked again
            count("AnsweredFromRecord", outcome=known.kind.value)
            return (replace(known, job=known.job or checked) if checked else known), None
        answered = self._ask(request, policy, token, checked, deadline, lookup, kind)
        if isinstance(answered, CancelOutcome):
            return answered, None
        reply, token, checked = answered
        outcome = interpret(job_id, reply, lookup=lookup)
        if reply.status >= 400:
            count("OmniErrors", reason=str(reply.status))
        if outcome.kind is Outcome.KEY_REJECTED:
            logger.error("Omni refused the relay's credential: update the Omni secret", extra={"job_id": job_id})
            count("OmniKeyRejected")  # one dimension (service), so OmniKeyRejectedAlarm can watch it
        if checked is not None:
            outcome = replace(outcome, job=checked, at=self._now())
        return outcome, (token if reply.status < 400 else None)

    def _answer_of_another(self, job_id: str, key: str, deadline: Deadline) -> CancelOutcome | None:
        """Another request is asking Omni about the job right now: its answer, when it comes in time
        (else this one asks Omni itself)."""
        assert self._records is not None
        end = time.monotonic() + min(ASKING_S, deadline.remaining() - WAIT_RESERVE_S)
        while time.monotonic() < end:
            time.sleep(0.1)
            if (known := self._records.recent(job_id, key)) is not None:
                return known
        return None

    def _ask(
        self,
        request: CancelRequest,
        policy: SenderPolicy,
        token: str,
        checked: JobDetails | None,
        deadline: Deadline,
        lookup: bool,
        kind: Kind,
    ) -> tuple[OmniReply, str, JobDetails | None] | CancelOutcome:
        """Omni's reply, the token it was given and the ownership check's details, or the outcome when
        there is no reply to interpret."""
        job_id = request.job_id
        omni = self._omni.as_kind(kind)
        call = omni.status if lookup else omni.cancel
        try:
            reply = call(job_id, token, deadline)
            if reply.status == 401:
                # Perhaps the key was rotated since we cached it: read it again, once, and judge the
                # request again with it (a removed personal token leaves the org key, and its rule).
                fresh, rechecked = self._authorize(request, policy, deadline, lookup, force=True)
                if fresh != token:
                    logger.info("Omni refused the cached key; retrying with the re-read one")
                    token, checked = fresh, rechecked or checked
                    reply = call(job_id, fresh, deadline)
        except OmniHeldBack as held:
            # Omni's budget for this key is spent (by cancels, for the kinds below them): not called.
            return CancelOutcome(job_id, Outcome.OMNI_BUSY, detail=held.reason, retry_after_s=held.wait_s)
        except OmniUnavailable as exc:
            count("OmniErrors", reason=exc.reason)
            return CancelOutcome(job_id, Outcome.OMNI_UNAVAILABLE, detail=exc.reason)
        except NotAllowed as denied:
            return self._refusal(request.requester, denied, job_id)
        except SecretsUnavailable as exc:
            return CancelOutcome(job_id, Outcome.KEY_REJECTED, detail=str(exc))
        return reply, token, checked


def refused_for(requester: Requester, denied: NotAllowed, job_id: str) -> None:
    """Every refusal logged with its reason and counted by it: an attack or a misconfiguration shows."""
    reason = denied.reason if denied.outcome is Outcome.SENDER_NOT_ALLOWED else denied.outcome.value
    logger.warning(
        "cancel refused by the relay",
        extra={"job_id": job_id, "reason": denied.reason, "principal": requester.principal, "actor": requester.actor},
    )
    count("Refusals", source=requester.source, reason=reason[:40])


def seen_by(requester: Requester, details: JobDetails) -> JobDetails:
    """What of a job may be shown where the request came from: nothing of its prompt, progress or owner
    where outsiders read the answer (a public repository's comments)."""
    if not requester.public:
        return details
    return replace(
        details,
        prompt="",
        progress="",
        owner_id="",
        owner_name="",
        chat_url="",
        cancelled_by="",
        error="",
        stopped_by="",  # who cancelled it through the relay, from where and why
        stopped_from="",
        stopped_because="",
    )
