"""What each Outcome means to a person, in plain words. Every source renders these; none invents its own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from omni_relay.domain.model import CancelOutcome, JobDetails, JobState, Outcome

# {job} is the job id; {state} the job's state as Omni reported it; {when} " 3 minutes ago" or "";
# {by} " by Omni user <id>", or who cancelled it through the relay and from where (the audit record),
# or ""; {after} how long after the request; {why} the reason, in our words; {stopped} for a cancelled
# job's status, when and by whom it was cancelled.
_TEXT: dict[Outcome, str] = {
    Outcome.CANCELLED: "Cancelled Omni AI job {job}.",
    Outcome.ALREADY_FINISHED: "Job {job} had already finished ({state}){when}, so there was nothing to cancel.",
    Outcome.ALREADY_CANCELLED: "Job {job} was already cancelled{when}{by}, so there was nothing to cancel.",
    Outcome.STOPPING: (
        "Cancel requested: job {job} is executing and Omni will stop it after its current step. "
        "Check again in a few seconds to see it cancelled."
    ),
    Outcome.STOPPED: "Job {job} stopped: {state}, {after} after the request.",
    Outcome.FINISHED_FIRST: "Job {job} finished before it could stop: {state}.",
    Outcome.NOT_OWNER: (
        "Only the job's owner or on-call can cancel job {job}, and Omni lists you as neither, so it was not "
        "cancelled. Ask its owner, or whoever is on call."
    ),
    Outcome.IDENTITY_UNKNOWN: "I could not tell who you are in Omni ({why}), so job {job} was not cancelled.",
    Outcome.STILL_RUNNING: (
        "Job {job} is still running {after} after the cancel was requested, so I stopped following it. "
        "Check it in Omni."
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
    Outcome.STATUS: "Job {job} is {state}.{stopped}",
    Outcome.RATE_LIMITED: (
        "You are sending cancels faster than this relay allows, so job {job} was not cancelled yet. "
        "Try again in a minute."
    ),
}

_PLAIN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SLACK_PRINCIPAL = re.compile(r"slack:[TE][A-Z0-9]{1,20}:([UW][A-Z0-9]{1,20})")
_SAFE_ID = re.compile(r"[A-Za-z0-9._@-]{1,100}")
_SLACK_CHANNEL = re.compile(r"#[CDG][A-Z0-9]{1,20}")
_COORDINATES = re.compile(r"[a-z]{2,20}:[A-Za-z0-9=,._/-]{1,200}")
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#$&+,;=%-]+")

# The last line of every comment the relay writes, so that it never reads its own comment as a
# command, whatever COMMAND_WORD is ("Cancelled Omni AI job …" holds "cancel" and a job id).
RELAY_MARK = "— omni-cancel-relay"
# What the relay's signed callback says it is: a Standard Webhooks delivery of this type is its own.
RESULT_TYPE = "omni.job.cancel.result"

# PENDING because Omni's budget for the minute is spent: when the worker will send the cancel.
HELD_BACK = (
    "Cancelling job {job}. Omni's requests for this minute are taken by other cancels, so I will send "
    "this one in about {wait} and post the result here."
)

# OMNI_BUSY because the budget held the call back (a `status`, or a cancel that could not be handed off).
BUDGET_SPENT = (
    "Omni's requests for this minute are kept for people's cancels, so I could not ask Omni about job {job} "
    "now. Try again in {wait}."
)

FOLLOWING = (
    "Cancel requested: job {job} is executing and Omni will stop it after its current step. "
    "I will say here when it has stopped."
)

# Outcomes that finished what was asked (the cancel is done or was not needed).
SETTLED = frozenset(
    {
        Outcome.CANCELLED,
        Outcome.ALREADY_FINISHED,
        Outcome.ALREADY_CANCELLED,
        Outcome.STOPPING,
        Outcome.STATUS,
        Outcome.STOPPED,
        Outcome.FINISHED_FIRST,
    }
)


def describe(outcome: CancelOutcome) -> str:
    """The outcome in one or two sentences. Holds only the relay's own words, states and the job id
    (a UUID): nothing Omni or a sender wrote, so every surface can show it as it is."""
    now = outcome.at or time.time()
    details = outcome.job or JobDetails()
    state = outcome.state.value if outcome.state else "unknown"
    at = details.cancelled_at if outcome.kind is Outcome.ALREADY_CANCELLED else details.completed_at
    template = _TEXT[outcome.kind]
    if outcome.kind is Outcome.STOPPING and outcome.following:
        template = FOLLOWING
    elif outcome.kind is Outcome.PENDING and outcome.retry_after_s:
        template = HELD_BACK
    elif outcome.kind is Outcome.OMNI_BUSY and outcome.retry_after_s:
        template = BUDGET_SPENT
    by = cancelled_by(details)
    stopped = ""
    if outcome.state is JobState.CANCELLED and (details.cancelled_at or by):
        ago = f" {duration(now - details.cancelled_at)} ago" if details.cancelled_at else ""
        stopped = f" It was cancelled{ago}{by}."
    return template.format(
        job=outcome.job_id,
        state=state,
        when=f" {duration(now - at)} ago" if at else "",
        by=by,
        after=duration(outcome.after_s),
        why=outcome.why or "no reason given",
        wait=duration(outcome.retry_after_s),
        stopped=stopped,
    )


def cancelled_by(details: JobDetails) -> str:
    """ " by @U0456 from #C0123" when the relay cancelled it (the audit record), " by Omni user <id>"
    when only Omni can say, else "". Only ids and links of a plain form are put into the sentence."""
    if not details.stopped_by:
        return f" by Omni user {details.cancelled_by}" if _plain_id(details.cancelled_by) else ""
    said = f" by {who(details.stopped_by)}"
    if where := place(details.stopped_from):
        said += f" from {where}"
    return said


def who(principal: str) -> str:
    """A principal as people read it: a Slack user as @U… (Slack shows the name), else the source's user."""
    if found := _SLACK_PRINCIPAL.fullmatch(principal):
        return f"@{found.group(1)}"
    source, _, rest = principal.partition(":")
    if rest == "sender":
        return f"the {source} integration"
    value = rest.rsplit(":", 1)[-1]
    return f"{source} user {value}" if _SAFE_ID.fullmatch(value) and _SAFE_ID.fullmatch(source) else source or "someone"


def place(where: str) -> str:
    """Where a request was asked, as a sentence may show it: a Slack channel, a link, the source's coordinates."""
    if _SLACK_CHANNEL.fullmatch(where) or _COORDINATES.fullmatch(where):
        return where
    if where.startswith(("https://", "http://")) and len(where) <= 1000 and _URL_CHARS.fullmatch(where):
        return where
    return ""


def duration(seconds: float) -> str:
    """42 s, 3 minutes, 2 hours, 4 days."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    unit, size = next((u, s) for u, s in (("day", 86400), ("hour", 3600), ("minute", 60)) if seconds >= s * 1.5)
    count = round(seconds / size)
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _plain_id(value: str) -> bool:
    """Omni's user ids are UUIDs: anything else is not put into a sentence."""
    return bool(_PLAIN_ID.fullmatch(value))


@dataclass(frozen=True)
class Fact:
    """One line about the job. `omni_text` marks a value someone typed (the prompt) or Omni wrote
    (progress, errors): data, which each surface renders literally."""

    label: str
    value: str
    omni_text: bool = False


PROMPT_CHARS = 120


def facts(outcome: CancelOutcome) -> list[Fact]:
    """What is being cancelled, from Omni's job status: prompt, age, progress, error."""
    details = outcome.job
    if details is None:
        return []
    now = outcome.at or time.time()
    found = []
    if details.prompt:
        prompt = " ".join(details.prompt.split())
        found.append(Fact("Prompt", prompt[:PROMPT_CHARS] + ("…" if len(prompt) > PROMPT_CHARS else ""), True))
    if details.owner_name:
        found.append(Fact("Owner", details.owner_name[:100], True))
    if details.created_at:
        found.append(Fact("Submitted", f"{duration(now - details.created_at)} ago"))
    if outcome.state is JobState.EXECUTING and (details.iteration or details.progress):
        step = f"step {details.iteration}" if details.iteration else "running"
        found.append(Fact("Progress", step + (f": {details.progress}" if details.progress else ""), True))
    if outcome.state is JobState.FAILED and details.error:
        found.append(Fact("Error", details.error[:200], True))
    if details.stopped_because:
        found.append(Fact("Reason", details.stopped_because, True))  # a sender's text: shown literally
    return found


def omni_link(outcome: CancelOutcome) -> str:
    """The job's page in Omni (omniChatUrl) when it is a plain http(s) URL; '' otherwise, so a hostile
    value (javascript:, spaces, markup characters) is never made into a link."""
    url = outcome.job.chat_url if outcome.job else ""
    if not url or len(url) > 1000 or not _URL_CHARS.fullmatch(url):
        return ""
    parts = urlsplit(url)
    return url if parts.scheme in ("https", "http") and parts.hostname else ""


def full_text(outcome: CancelOutcome, literal: Callable[[str], str] = str) -> str:
    """The outcome and what Omni says about the job, as text for a surface whose markup `literal`
    neutralises (a comment, a Teams reply, a JSON message)."""
    lines = [describe(outcome)]
    lines += [f"{fact.label}: {literal(fact.value) if fact.omni_text else fact.value}" for fact in facts(outcome)]
    if link := omni_link(outcome):
        lines.append(f"Open in Omni: {link}")
    return "\n".join(lines)


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


def reported(outcome: CancelOutcome, message: str) -> dict[str, Any]:
    """The JSON a webhook reply and the callback carry: the outcome, the message, and Omni's details
    of the job as data (never inside the message's markup)."""
    body: dict[str, Any] = {**outcome.as_dict(), "message": message}
    if outcome.job is not None and (job := outcome.job.to_dict()):
        body["job"] = job
    return body
