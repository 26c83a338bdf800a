"""Telling a job's owner that someone else cancelled it, in a Slack direct message.

With the org key nobody in Omni can tell who stopped a job; its owner just sees it gone. When a
cancel Omni accepted was asked by someone other than the job's owner, the worker (never the relay's
answer) finds the owner and tells them which job, who cancelled it, from where, when and why:

1. the owner: Omni's job userId (from the relay's own check or read, else one status read);
2. their email: Omni's SCIM user (userName), with the SCIM token or the org key;
3. their Slack user: users.lookupByEmail (the bot token in the Slack secret, users:read.email);
4. not the requester themselves (the same Slack user, or the same email);
5. conversations.open + chat.postMessage (im:write, chat:write).

Off with NotifyOwner=false or without a bot token. Once per cancel (the worker de-duplicates it).
Every way it ends is logged and counted (OwnerNotices, by outcome); it never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from omni_relay.adapters.omni import OmniPort
from omni_relay.adapters.omni_replies import job_details
from omni_relay.adapters.slack_api import SlackMessagesPort
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.model import JobDetails
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import NotTold, OmniUnavailable, SecretsUnavailable, WhoUnknown
from omni_relay.observability import count, logger
from omni_relay.presentation.slack_blocks import render_owner_notice
from omni_relay.sources.slack_secret import SlackSecret
from omni_relay.usecases.authorized_omni import AuthorizedOmni

NOTICE_DEADLINE_S = 10.0


class NoticePorts(Protocol):
    authorized: AuthorizedOmni
    now: Callable[[], float]

    @property
    def omni(self) -> OmniPort: ...

    slack_secret: SlackSecret  # the bot token

    @property
    def slack_messages(self) -> SlackMessagesPort: ...


def tell_owner(ports: NoticePorts, task: CancelTask) -> str:
    """Tell `task`'s job owner who cancelled it. Returns how it ended: sent, self, or why not."""
    try:
        ended = _tell(ports, task)
    except NotTold as no:
        ended = no.outcome
        log = logger.info if no.outcome in ("self", "no_bot_token") else logger.warning
        log("owner not told", extra={"job_id": task.job_id, "outcome": no.outcome, "why": no.why})
    else:
        logger.info("owner told who cancelled their job", extra={"job_id": task.job_id})
    count("OwnerNotices", outcome=ended)
    return ended


def _tell(ports: NoticePorts, task: CancelTask) -> str:
    notice = task.notice
    if notice is None:
        raise NotTold("no_notice", "the task asks for no notice")
    deadline = Deadline.within(NOTICE_DEADLINE_S)
    try:
        bot_token = ports.slack_secret.bot_token()
        credentials = ports.authorized.credentials()
    except (WhoUnknown, SecretsUnavailable) as exc:
        raise NotTold("setup", str(exc)) from None
    if not bot_token:
        raise NotTold("no_bot_token", "the Slack secret has no bot_token")
    if not credentials.api_key:
        raise NotTold("no_org_key", "only the org key can read a job's owner")
    details = JobDetails(owner_id=notice.owner, prompt=notice.prompt, chat_url=notice.link)
    if not details.owner_id:
        details = _job(ports, task.job_id, credentials.api_key, deadline)
    email = _email(ports, details.owner_id, credentials.scim_token or credentials.api_key, deadline)
    requester = task.requester
    if email == requester.email.strip().lower() or any(credentials.identities.get(i) == email for i in requester.ids):
        raise NotTold("self", "the owner cancelled their own job")
    try:
        owner, team = ports.slack_messages.user_by_email(email, bot_token, deadline)
        if requester.source == "slack" and requester.user_id == owner and requester.workspace in (team, ""):
            raise NotTold("self", "the owner cancelled their own job")
        told = replace(details, stopped_by=requester.principal, stopped_from=task.where, stopped_because=task.reason)
        message = render_owner_notice(task.job_id, told, notice.at, ports.now())
        ports.slack_messages.direct_message(owner, message, bot_token, deadline)
    except WhoUnknown as exc:
        raise NotTold("slack", exc.reason) from None
    return "sent"


def _reads(ports: NoticePorts) -> OmniPort:
    """The notice's Omni reads take from Omni's budget as `details` do: last, after people's cancels."""
    from omni_relay.adapters.omni_budget import BudgetedOmni, Kind

    return ports.omni.as_kind(Kind.DETAILS) if isinstance(ports.omni, BudgetedOmni) else ports.omni


def _job(ports: NoticePorts, job_id: str, token: str, deadline: Deadline) -> JobDetails:
    try:
        reply = _reads(ports).status(job_id, token, deadline)
    except OmniUnavailable as exc:
        raise NotTold("omni", f"job status: {exc.reason}") from None
    details = job_details(reply.body) if reply.status == 200 and reply.is_json else JobDetails()
    if not details.owner_id:
        raise NotTold("omni", f"job status gave no owner (HTTP {reply.status})")
    return details


def _email(ports: NoticePorts, user_id: str, token: str, deadline: Deadline) -> str:
    try:
        reply = _reads(ports).user(user_id, token, deadline)
    except OmniUnavailable as exc:
        raise NotTold("scim", f"Omni's users: {exc.reason}") from None
    email: Any = reply.body.get("userName") if reply.status == 200 and reply.is_json else None
    if not isinstance(email, str) or "@" not in email:
        raise NotTold("scim", f"Omni's SCIM gave no email for the owner (HTTP {reply.status})")
    return email.strip().lower()
