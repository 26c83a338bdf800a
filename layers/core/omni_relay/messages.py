"""What each Outcome means to a person, in plain words. Every source renders these; none invents its own."""

from __future__ import annotations

from omni_relay.domain import CancelOutcome, Outcome

# {job} is the job id; {state} the job's state as Omni reported it.
_TEXT: dict[Outcome, str] = {
    Outcome.CANCELLED: "Cancelled Omni AI job {job}.",
    Outcome.ALREADY_FINISHED: "Job {job} had already finished ({state}), so there was nothing to cancel.",
    Outcome.STOPPING: (
        "Cancel requested: job {job} is executing and Omni will stop it after its current step. "
        "Check again in a few seconds to see it cancelled."
    ),
    Outcome.NOT_CANCELLABLE: "Job {job} can no longer be cancelled: it is already delivering its results.",
    Outcome.FORBIDDEN: "Omni did not allow this: only the job's owner or an Omni org admin can cancel job {job}.",
    Outcome.NOT_FOUND: "No job {job} was found. Check the id: jobs of another Omni org cannot be seen from here.",
    Outcome.INVALID_JOB_ID: (
        "{job} is not a valid job id: it should be a UUID like 123e4567-e89b-12d3-a456-426614174000."
    ),
    Outcome.KEY_REJECTED: (
        "Omni refused the relay's credentials, so job {job} was not cancelled. This is a setup problem, "
        "not yours: the relay's operator has been alerted and needs to update the Omni key in its secret."
    ),
    Outcome.OMNI_BUSY: (
        "Omni is rate-limiting requests right now, so job {job} was not cancelled yet. Try again in a minute."
    ),
    Outcome.OMNI_UNAVAILABLE: (
        "Omni did not respond in time, so I cannot confirm that job {job} was cancelled. "
        "Try again in a minute; if it keeps happening, check Omni's status page."
    ),
    Outcome.UNEXPECTED_REPLY: (
        "Omni answered in a way I did not expect, so I cannot confirm that job {job} was cancelled. "
        "Check the job in Omni, or try again."
    ),
    Outcome.SENDER_NOT_ALLOWED: (
        "You are not allowed to cancel Omni jobs through this relay. Ask your Omni admin to add you "
        "to its allow-list or to map your Omni token."
    ),
    Outcome.NOT_CONFIGURED: (
        "This relay is not set up to cancel jobs yet: its operator puts an Omni org API key in the Omni secret "
        "(api_key) and lists who may use it (the SlackAllowedTeams parameter for Slack, GithubAllowed and the "
        "like for other tools), or maps people to their own Omni tokens (user_tokens)."
    ),
    Outcome.SETTINGS_UNAVAILABLE: (
        "The relay cannot read its settings right now, so job {job} was not cancelled. Try again in a minute; "
        "the relay's operator has been alerted."
    ),
    Outcome.PENDING: "Cancelling job {job}. Omni is slow to answer; I will post the result here.",
    Outcome.STATUS: "Job {job} is {state}.",
    Outcome.RATE_LIMITED: (
        "You are sending cancels faster than this relay allows, so job {job} was not cancelled yet. "
        "Try again in a minute."
    ),
}

# Outcomes that finished what was asked (the cancel is done or was not needed).
SETTLED = frozenset({Outcome.CANCELLED, Outcome.ALREADY_FINISHED, Outcome.STOPPING, Outcome.STATUS})


def describe(outcome: CancelOutcome) -> str:
    state = outcome.state.value if outcome.state else "unknown"
    return _TEXT[outcome.outcome].format(job=outcome.job_id, state=state)


def given_up(job_id: str, attempts: int) -> str:
    """The worker's last attempt failed too: the task is parked in the dead-letter queue for a redrive."""
    return (
        f"I could not cancel job {job_id}: after {attempts} attempts Omni still did not answer. "
        "Your operator can retry it from the dead-letter queue; you can also try again later."
    )


def pending_elsewhere(job_id: str) -> str:
    """Handed off, for a source with no way to post into the conversation (Teams): the callback gets it."""
    return (
        f"Cancelling job {job_id}. Omni is slow to answer; the relay keeps trying in the background "
        "and sends the result to its callback. Check the job in Omni in a minute."
    )
