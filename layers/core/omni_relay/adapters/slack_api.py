"""The Slack Web API methods the relay calls, over urllib3 with its bot token: for "owner or on-call",
users.info (a person's email; the users:read and users:read.email scopes) and usergroups.users.list
(an on-call group's members; usergroups:read); to tell a job's owner who cancelled it,
users.lookupByEmail (users:read.email), conversations.open (im:write) and chat.postMessage
(chat:write) — every failure of these a WhoUnknown whose reason a person can read (the relay never
guesses who someone is); and chat.unfurl (a job link's card; links:write), whose failures are an
UnfurlFailed for the log."""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

import urllib3

from omni_relay.adapters.http_pool import shared_pool
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import UnfurlFailed, WhoUnknown

SLACK_API = "https://slack.com/api"


class SlackUnfurlPort(Protocol):
    def unfurl(self, target: dict[str, str], unfurls: dict[str, Any], token: str, deadline: Deadline) -> None:
        """chat.unfurl: `target` is {"channel", "ts"} or {"unfurl_id", "source"}; `unfurls` maps URL -> card."""
        ...


class SlackDirectoryPort(Protocol):
    def email_of(self, user_id: str, token: str, deadline: Deadline) -> str: ...

    def group_members(self, group_id: str, token: str, deadline: Deadline) -> frozenset[str]: ...


class SlackMessagesPort(Protocol):
    def user_by_email(self, email: str, token: str, deadline: Deadline) -> tuple[str, str]:
        """The Slack user (id, team id) whose email is `email`."""
        ...

    def direct_message(self, user_id: str, message: dict[str, Any], token: str, deadline: Deadline) -> None:
        """Open the bot's DM with `user_id` and post `message` ({"text", "blocks"}) there."""
        ...


class SlackApi:
    def __init__(self, base_url: str = "", http: urllib3.PoolManager | None = None) -> None:
        self._base = (base_url or SLACK_API).rstrip("/")
        self._http = http or shared_pool()

    def email_of(self, user_id: str, token: str, deadline: Deadline) -> str:
        user = self._call("users.info", {"user": user_id}, token, deadline).get("user") or {}
        email = (user.get("profile") or {}).get("email") if isinstance(user, dict) else None
        if not isinstance(email, str) or "@" not in email:
            # Slack answers users.info without the email when the token lacks users:read.email.
            raise WhoUnknown(
                "Slack did not give your email: the relay's Slack app needs the users:read.email scope", setup=True
            )
        return email.strip().lower()

    def group_members(self, group_id: str, token: str, deadline: Deadline) -> frozenset[str]:
        users = self._call("usergroups.users.list", {"usergroup": group_id}, token, deadline).get("users")
        return frozenset(u for u in users if isinstance(u, str)) if isinstance(users, list) else frozenset()

    def user_by_email(self, email: str, token: str, deadline: Deadline) -> tuple[str, str]:
        user = self._call("users.lookupByEmail", {"email": email}, token, deadline).get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or user.get("deleted") is True:
            raise WhoUnknown("Slack has no active user with that email")
        return user["id"], str(user.get("team_id") or "")

    def direct_message(self, user_id: str, message: dict[str, Any], token: str, deadline: Deadline) -> None:
        opened = self._call("conversations.open", {"users": user_id}, token, deadline).get("channel")
        channel = opened.get("id") if isinstance(opened, dict) else None
        if not isinstance(channel, str) or not channel:
            raise WhoUnknown("Slack opened no direct message channel")
        fields = {"channel": channel, "text": str(message.get("text") or "")}
        if message.get("blocks"):
            fields["blocks"] = json.dumps(message["blocks"])
        fields["unfurl_links"] = "false"
        self._call("chat.postMessage", fields, token, deadline)

    def unfurl(self, target: dict[str, str], unfurls: dict[str, Any], token: str, deadline: Deadline) -> None:
        """chat.unfurl with a JSON body (Slack's Web API takes JSON with a bearer token for write methods)."""
        if not token:
            raise UnfurlFailed("no bot_token in the Slack secret", setup=True)
        try:
            status, body = self._post("chat.unfurl", token, deadline, payload={**target, "unfurls": unfurls})
        except _NoTime:
            raise UnfurlFailed("no time left to unfurl") from None
        except urllib3.exceptions.HTTPError:
            raise UnfurlFailed("Slack did not answer chat.unfurl") from None
        if status != 200 or body is None:
            raise UnfurlFailed(f"Slack answered chat.unfurl with HTTP {status}")
        if body.get("ok") is not True:
            error = _word(body.get("error"))
            raise UnfurlFailed(_reason(error, body), setup=error in SETUP_ERRORS)

    def _call(self, method: str, fields: dict[str, str], token: str, deadline: Deadline) -> dict[str, Any]:
        if not token:
            raise WhoUnknown(
                "the relay's Slack secret has no bot_token (a bot token with users:read.email)", setup=True
            )
        try:
            status, body = self._post(method, token, deadline, fields=fields)
        except _NoTime:
            raise WhoUnknown("there was no time left to ask Slack who you are") from None
        except urllib3.exceptions.HTTPError:
            raise WhoUnknown("Slack did not answer when asked who you are") from None
        if status == 429:
            raise WhoUnknown("Slack is rate-limiting the relay's look-ups; try again in a minute")
        if status != 200 or body is None:
            raise WhoUnknown("Slack did not answer when asked who you are")
        if body.get("ok") is not True:
            error = _word(body.get("error"))
            raise WhoUnknown(_reason(error, body), setup=error in SETUP_ERRORS)
        return body

    def _post(
        self,
        method: str,
        token: str,
        deadline: Deadline,
        *,
        fields: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any] | None]:
        """One Web API call within `deadline`, as a form (`fields`) or JSON (`payload`): its HTTP status
        and its JSON object (None when it is not one). _NoTime when too little of the deadline is left."""
        remaining = deadline.remaining()
        if remaining < 0.05:
            raise _NoTime
        headers = {"Authorization": f"Bearer {token}"}
        body: dict[str, Any] = {"fields": fields, "encode_multipart": False}
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            body = {"body": json.dumps(payload).encode()}
        response = self._http.request(
            "POST",
            f"{self._base}/{method}",
            headers=headers,
            timeout=urllib3.Timeout(connect=min(1.0, remaining), read=remaining),
            retries=False,
            redirect=False,
            **body,
        )
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            return response.status, None
        return response.status, answer if isinstance(answer, dict) else None


class _NoTime(Exception):
    """Too little of the caller's deadline is left to ask Slack (each caller says so in its own words)."""


SETUP_ERRORS = frozenset({"missing_scope", "invalid_auth", "not_authed", "token_revoked", "account_inactive"})


def _word(value: object) -> str:
    """A Slack error code or scope name, kept to the characters those have: it goes into a message."""
    return re.sub(r"[^a-z0-9:._,-]", "", str(value or "").lower())[:40] or "unknown"


def _reason(error: str, body: dict[str, Any]) -> str:
    if error == "missing_scope":
        return f"the relay's Slack app lacks the {_word(body.get('needed'))} scope"
    if error in SETUP_ERRORS:
        return "the relay's Slack bot token is missing, revoked or invalid"
    if error in ("user_not_found", "no_such_subteam", "users_not_found"):
        return "Slack does not know this user or group"
    if error == "ratelimited":
        return "Slack is rate-limiting the relay's look-ups; try again in a minute"
    return f"Slack answered {error}"
