"""The cancel use case: authorize, call Omni, turn its reply into an Outcome. No HTTP or Slack here."""

from __future__ import annotations

from collections.abc import Callable

from omni_relay.auth import NotAllowed, OmniCredentials, SenderPolicy, choose_token
from omni_relay.deadline import Deadline
from omni_relay.domain import CancelOutcome, CancelRequest, JobState, Outcome
from omni_relay.jobref import is_job_id
from omni_relay.observability import count, logger
from omni_relay.omni import OmniPort, OmniReply, OmniUnavailable
from omni_relay.secret_store import SecretStore, SecretsUnavailable


class CancelService:
    def __init__(
        self, omni: OmniPort, secrets: SecretStore, omni_secret_id: str, policy_for: Callable[[str], SenderPolicy]
    ) -> None:
        self._omni = omni
        self._policy_for = policy_for  # the requester's source picks its policy, here only
        self._secrets = secrets
        self._omni_secret_id = omni_secret_id

    def credentials(self, *, force: bool = False) -> OmniCredentials:
        value = self._secrets.get_json(self._omni_secret_id, force=force)
        return OmniCredentials.from_secret(self._omni_secret_id, value)

    def cancel(self, request: CancelRequest, deadline: Deadline) -> CancelOutcome:
        return self._run(request, deadline, lookup=False)

    def status(self, request: CancelRequest, deadline: Deadline) -> CancelOutcome:
        """The job's current state, with the same authorization as a cancel."""
        return self._run(request, deadline, lookup=True)

    def _run(self, request: CancelRequest, deadline: Deadline, lookup: bool) -> CancelOutcome:
        job_id = request.job_id
        policy = self._policy_for(request.requester.source)
        if not is_job_id(job_id):
            return CancelOutcome(job_id, Outcome.INVALID_JOB_ID, detail="not a UUID")
        try:
            token = choose_token(request.requester, self.credentials(), policy)
        except SecretsUnavailable as exc:
            logger.error("cannot read the Omni secret", extra={"job_id": job_id, "reason": str(exc)})
            return CancelOutcome(job_id, Outcome.SETTINGS_UNAVAILABLE, detail=str(exc))
        except NotAllowed as denied:
            logger.warning("cancel refused by the relay", extra={"job_id": job_id, "reason": denied.reason})
            return CancelOutcome(job_id, denied.outcome, detail=denied.reason)
        call = self._omni.status if lookup else self._omni.cancel
        try:
            reply = call(job_id, token, deadline)
            if reply.status == 401:
                # Perhaps the key was rotated since we cached it: read it again, once.
                fresh = choose_token(request.requester, self.credentials(force=True), policy)
                if fresh != token:
                    logger.info("Omni refused the cached key; retrying with the re-read one")
                    reply = call(job_id, fresh, deadline)
        except OmniUnavailable as exc:
            count("OmniErrors", reason=exc.reason)
            return CancelOutcome(job_id, Outcome.OMNI_UNAVAILABLE, detail=exc.reason)
        except NotAllowed as denied:
            return CancelOutcome(job_id, denied.outcome, detail=denied.reason)
        except SecretsUnavailable as exc:
            return CancelOutcome(job_id, Outcome.KEY_REJECTED, detail=str(exc))
        outcome = interpret(job_id, reply, lookup=lookup)
        if reply.status >= 400:
            count("OmniErrors", reason=str(reply.status))
        if outcome.outcome is Outcome.KEY_REJECTED:
            logger.error("Omni refused the relay's credential: update the Omni secret", extra={"job_id": job_id})
            count("OmniKeyRejected")  # one dimension (service), so OmniKeyRejectedAlarm can watch it
        return outcome


def interpret(job_id: str, reply: OmniReply, *, lookup: bool = False) -> CancelOutcome:
    """Omni's reply, per both specs (the brief's and the published one), as one Outcome."""
    status, message = reply.status, reply.message
    detail = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 200:
        state = JobState.parse(reply.body.get("state")) if reply.is_json else None
        if state is None:
            return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail + " with no known state")
        if lookup:
            return CancelOutcome(job_id, Outcome.STATUS, state, detail)
        by_state = {
            JobState.CANCELLED: Outcome.CANCELLED,
            JobState.COMPLETE: Outcome.ALREADY_FINISHED,
            JobState.FAILED: Outcome.ALREADY_FINISHED,
            JobState.EXECUTING: Outcome.STOPPING,
            JobState.QUEUED: Outcome.STOPPING,
            JobState.DELIVERING: Outcome.NOT_CANCELLABLE,
        }
        return CancelOutcome(job_id, by_state[state], state, detail)
    if status == 400:
        lowered = message.lower()
        if "cancellable" in lowered or "cancelable" in lowered:
            return CancelOutcome(job_id, Outcome.NOT_CANCELLABLE, JobState.DELIVERING, detail)
        if "uuid" in lowered or "job id" in lowered:
            return CancelOutcome(job_id, Outcome.INVALID_JOB_ID, detail=detail)
        return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail)
    simple = {
        401: Outcome.KEY_REJECTED,
        403: Outcome.FORBIDDEN,
        404: Outcome.NOT_FOUND,
        409: Outcome.OMNI_BUSY,
        429: Outcome.OMNI_BUSY,
    }
    if status in simple:
        return CancelOutcome(job_id, simple[status], detail=detail)
    if status >= 500:
        return CancelOutcome(job_id, Outcome.OMNI_UNAVAILABLE, detail=detail)
    return CancelOutcome(job_id, Outcome.UNEXPECTED_REPLY, detail=detail)
