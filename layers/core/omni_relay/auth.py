"""Who may cancel, and with which Omni credential.

Two modes, both documented in the README:
- per-user tokens: the Omni secret maps "<team>:<user>" to an Omni personal access token,
  so Omni itself enforces "only the owner or an org admin";
- org key + allow-list: one org API key, and configuration lists who may use it.
A person with a mapped token always uses it; the org key is only for allow-listed senders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.domain import Outcome, Requester
from omni_relay.secret_store import SecretsUnavailable

if TYPE_CHECKING:
    from omni_relay.settings import Settings


@dataclass(frozen=True)
class AllowList:
    """A comma-separated list from configuration; `*` allows everyone, empty allows no one."""

    entries: frozenset[str]

    @classmethod
    def parse(cls, raw: str) -> AllowList:
        return cls(frozenset(e.strip() for e in raw.split(",") if e.strip()))

    def allows(self, value: str) -> bool:
        return "*" in self.entries or (bool(value) and value in self.entries)

    @property
    def configured(self) -> bool:
        return bool(self.entries)


@dataclass(frozen=True)
class SenderList:
    """Which senders of a webhook source may cancel: comma-separated `scope` or `scope:user` entries,
    `*` for any part (e.g. `acme/data:*`, `*:alice`, `*`). Empty allows no one: deny by default."""

    entries: frozenset[tuple[str, str]]

    @classmethod
    def parse(cls, raw: str) -> SenderList:
        pairs = set()
        for entry in (e.strip() for e in raw.split(",")):
            if entry:
                scope, _, user = entry.partition(":") if entry != "*" else ("*", "", "*")
                pairs.add((scope.strip() or "*", user.strip() or "*"))
        return cls(frozenset(pairs))

    @property
    def configured(self) -> bool:
        return bool(self.entries)

    def allows(self, scope: str, user: str) -> bool:
        return any((s == "*" or (scope and s == scope)) and (u == "*" or (user and u == user)) for s, u in self.entries)


@dataclass(frozen=True)
class OmniCredentials:
    api_key: str = field(default="", repr=False)
    user_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_secret(cls, secret_id: str, value: Mapping[str, Any]) -> OmniCredentials:
        api_key = value.get("api_key", "")
        tokens = value.get("user_tokens", {})
        if not isinstance(api_key, str):
            raise SecretsUnavailable(f"secret {secret_id}: api_key must be a string")
        if not isinstance(tokens, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()
        ):
            raise SecretsUnavailable(f"secret {secret_id}: user_tokens must map strings to strings")
        return cls(api_key.strip(), {k.strip(): v.strip() for k, v in tokens.items() if v.strip()})


class SenderPolicy(Protocol):
    """Which senders of one source may use the org key."""

    @property
    def configured(self) -> bool: ...

    def allows(self, requester: Requester) -> bool: ...


@dataclass(frozen=True)
class SlackPolicy:
    teams: AllowList
    users: AllowList
    channels: AllowList

    @property
    def configured(self) -> bool:
        return self.teams.configured

    def allows(self, requester: Requester) -> bool:
        return (
            self.teams.allows(requester.workspace)
            and self.users.allows(requester.user_id)
            and self.channels.allows(requester.scope)
        )


@dataclass(frozen=True)
class WebhookSenderPolicy:
    """A webhook source's <SOURCE>_ALLOWED: `scope:user` entries matched against the requester's
    scope (repository, project, brand, service, team) and user_id."""

    senders: SenderList

    @property
    def configured(self) -> bool:
        return self.senders.configured

    def allows(self, requester: Requester) -> bool:
        return self.senders.allows(requester.scope, requester.user_id)


def policy_for(settings: Settings, source: str) -> SenderPolicy:
    """The one place a sender policy is chosen: by the source the request came from, for the relay
    and the worker alike (a handed-off GitHub task is judged by GITHUB_ALLOWED, never by Slack's)."""
    if source == "slack":
        return SlackPolicy(settings.slack_allowed_teams, settings.slack_allowed_users, settings.slack_allowed_channels)
    return WebhookSenderPolicy(settings.allowed_senders(source))


class NotAllowed(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def choose_token(requester: Requester, credentials: OmniCredentials, policy: SenderPolicy) -> str:
    """The Omni token to cancel with on `requester`'s behalf, or NotAllowed saying why not."""
    token = credentials.user_tokens.get(requester.key)
    if token:
        return token
    if credentials.api_key and policy.configured:
        if policy.allows(requester):
            return credentials.api_key
        raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, "sender not on the allow-list")
    if credentials.user_tokens:
        raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, "no Omni token mapped for this sender")
    raise NotAllowed(Outcome.NOT_CONFIGURED, "no user tokens, and no org key with an allow-list")
