"""Omni's own rule, kept with the org key: people cancel their own jobs, on-call cancels any.

With per-user tokens Omni enforces "only the job's owner or an org admin" itself; the org key acts
as an admin, so in owner-or-on-call mode the relay checks the rule before cancelling with it:

1. the job's owner: Omni's job status (userId) — one Omni call per command;
2. on call by id (a Slack user id, a webhook sender id): no look-up;
3. who asked, as an email: Slack's users.info (the bot token in the Slack secret), or for a webhook
   sender the Omni secret's `identities` map ("github:id:583231" -> email), else the email the vendor's
   signed payload gives (Jira's comment author, Linear's actor), and only where the vendor vouches
   for the sender; on call by email, or by a Slack user group (usergroups.users.list);
4. that email's Omni user (SCIM userName eq "<email>"), compared with the owner.

Look-ups are cached in the execution environment for a bounded age (people for IDENTITY_MAX_AGE_S,
group members for 5 minutes); failures are not cached. Whenever Slack or Omni cannot say who someone
is, the answer is a refusal with the reason (fail closed), never a cancel.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from omni_relay.adapters.omni import OmniPort
from omni_relay.adapters.omni_replies import interpret
from omni_relay.adapters.slack_api import SlackDirectoryPort
from omni_relay.adapters.ttl_cache import TtlCache
from omni_relay.domain.allowlists import OnCall
from omni_relay.domain.credentials import OmniCredentials
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import JobDetails, Outcome
from omni_relay.errors import NotAllowed, OmniUnavailable, WhoUnknown
from omni_relay.observability import count, logger

GROUP_MAX_AGE_S = 300.0
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,255}")


class OwnerOrOnCall:
    def __init__(
        self,
        omni: OmniPort,
        slack: SlackDirectoryPort,
        on_call: OnCall,
        slack_token: Callable[[], str],
        *,
        max_age_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._omni = omni
        self._slack = slack
        self._on_call = on_call
        self._slack_token = slack_token
        self._emails = TtlCache(max_age_s, clock=clock)  # (workspace, Slack user) -> email
        self._users = TtlCache(max_age_s, clock=clock)  # email -> Omni user id
        self._names = TtlCache(max_age_s, clock=clock)  # Omni user id -> display name
        self._groups = TtlCache(GROUP_MAX_AGE_S, clock=clock)  # Slack user group -> members

    def check(
        self, requester: Requester, job_id: str, credentials: OmniCredentials, trusted: bool, deadline: Deadline
    ) -> JobDetails:
        """The job's details when `requester` may cancel it with the org key; NotAllowed otherwise."""
        token = credentials.api_key
        details = self._job(job_id, token, deadline)
        try:
            on_call, me = self.standing(requester, credentials, trusted, deadline)
            decision = "on call" if on_call else "owner" if me == details.owner_id else "refused"
        except WhoUnknown as unknown:
            if unknown.setup:  # the operator's to fix: a token or a scope is missing
                logger.error("owner-or-on-call is not fully set up", extra={"why": unknown.reason})
                count("SetupIncomplete")
            logger.warning(
                "who asked is unknown: not cancelling", extra={"job_owner": details.owner_id, "why": unknown.reason}
            )
            count("OwnershipRefusals", reason="identity_unknown")
            raise NotAllowed(Outcome.IDENTITY_UNKNOWN, unknown.reason, why=unknown.reason, job=details) from None
        logger.info(
            "ownership checked",
            extra={"job_owner": details.owner_id, "requester_omni_user": me, "decision": decision},
        )
        if decision != "refused":
            return details
        count("OwnershipRefusals", reason="not_owner")
        named = replace(details, owner_name=self._name(details.owner_id, credentials.scim_token or token, deadline))
        raise NotAllowed(Outcome.NOT_OWNER, "neither the job's owner nor on call", job=named)

    def standing(
        self, requester: Requester, credentials: OmniCredentials, trusted: bool, deadline: Deadline
    ) -> tuple[bool, str]:
        """Whether `requester` is on call, else their Omni user id (for the owner rule and `history`).
        WhoUnknown when Slack or Omni cannot say."""
        if self._on_call_by_id(requester, trusted):
            return True, ""
        email = self._email(requester, credentials, trusted, deadline)
        if email in self._on_call.emails or self._in_group(requester, deadline):
            return True, ""
        return False, self._omni_user(email, credentials.scim_token or credentials.api_key, deadline)

    # -- the job -------------------------------------------------------------------------------

    def _job(self, job_id: str, token: str, deadline: Deadline) -> JobDetails:
        try:
            outcome = interpret(job_id, self._omni.status(job_id, token, deadline), lookup=True)
        except OmniUnavailable as exc:
            raise NotAllowed(Outcome.OMNI_UNAVAILABLE, f"job status: {exc.reason}") from None
        if outcome.kind is not Outcome.STATUS or outcome.job is None:
            raise NotAllowed(outcome.kind, f"job status: {outcome.detail}")
        if not outcome.job.owner_id:
            raise NotAllowed(Outcome.UNEXPECTED_REPLY, "job status without userId")
        return outcome.job

    # -- who asked -----------------------------------------------------------------------------

    def _on_call_by_id(self, requester: Requester, trusted: bool) -> bool:
        if not trusted:
            return False
        if requester.source == "slack" and requester.user_id in self._on_call.slack_users:
            return True
        return any(key in self._on_call.senders for key in requester.ids)  # namespaced: a login is never an id

    def _email(self, requester: Requester, credentials: OmniCredentials, trusted: bool, deadline: Deadline) -> str:
        if requester.source == "slack":
            key = (requester.workspace, requester.user_id)
            return str(
                self._emails.remember(
                    key, lambda: self._slack.email_of(requester.user_id, self._slack_token(), deadline)
                )
            )
        if not trusted:
            raise WhoUnknown(f"{requester.source} does not sign who sent a request, so it cannot name you")
        for known in requester.ids:
            if email := credentials.identities.get(known):
                return email  # the operator's map first: it can correct what a vendor says
        if "@" in requester.email:
            return requester.email.strip().lower()  # from the vendor's signed payload
        raise WhoUnknown(f"the relay's Omni secret maps no email to your {requester.source} account (identities)")

    def _in_group(self, requester: Requester, deadline: Deadline) -> bool:
        if requester.source != "slack":
            return False
        return any(requester.user_id in self._members(group, deadline) for group in sorted(self._on_call.slack_groups))

    def _members(self, group: str, deadline: Deadline) -> frozenset[str]:
        return frozenset(
            self._groups.remember(group, lambda: self._slack.group_members(group, self._slack_token(), deadline))
        )

    def _omni_user(self, email: str, token: str, deadline: Deadline) -> str:
        if not _PLAIN_EMAIL.fullmatch(email):  # it goes into a SCIM filter: nothing that could change it
            raise WhoUnknown("the email your account gives cannot be looked up in Omni")

        def find() -> str:
            reply = self._scim(lambda: self._omni.find_user(email, token, deadline))
            resources = reply.get("Resources")
            ids = [r.get("id") for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
            if len(ids) != 1 or not isinstance(ids[0], str):
                raise WhoUnknown("no Omni user has the email your account gives")
            return ids[0]

        return str(self._users.remember(email, find))

    def _name(self, user_id: str, token: str, deadline: Deadline) -> str:
        """The owner as people know them ("Carol (carol@acme.com)"); the id when Omni cannot say."""

        def name() -> str:
            user = self._scim(lambda: self._omni.user(user_id, token, deadline))
            name, email = str(user.get("displayName") or ""), str(user.get("userName") or "")
            return f"{name} ({email})" if name and email else name or email or user_id

        try:
            return str(self._names.remember(user_id, name))
        except WhoUnknown:
            return user_id

    @staticmethod
    def _scim(call: Callable[[], Any]) -> dict[str, Any]:
        try:
            reply = call()
        except OmniUnavailable:
            raise WhoUnknown("Omni's user directory (SCIM) did not answer") from None
        if reply.status in (401, 403):
            raise WhoUnknown(
                "the relay's Omni key cannot read Omni's users: put a SCIM token in the Omni secret", setup=True
            )
        if reply.status != 200 or not reply.is_json:
            raise WhoUnknown("Omni's user directory (SCIM) did not answer")
        return dict(reply.body)
