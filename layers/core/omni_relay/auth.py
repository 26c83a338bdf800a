"""Who may cancel, and with which Omni credential.

Deny by default: a source's allow-list is checked first, always; a mapped token never bypasses it.
Then the credential, in two modes documented in the README:
- per-user tokens: the Omni secret maps "<team>:<user>" (or "github:<numeric id>", …) to an Omni
  personal access token, so Omni itself enforces "only the owner or an org admin"; used only where
  the vendor vouches for who the sender is (never for an identity the sender writes itself);
- org key: one org API key for every allow-listed sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.domain import JobDetails, Outcome, Requester
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
    scim_token: str = field(default="", repr=False)  # reads Omni's users (owner-or-on-call); else api_key
    identities: Mapping[str, str] = field(default_factory=dict)  # "github:583231" -> the person's email

    @classmethod
    def from_secret(cls, secret_id: str, value: Mapping[str, Any]) -> OmniCredentials:
        api_key, scim_token = value.get("api_key", ""), value.get("scim_token", "")
        if not isinstance(api_key, str) or not isinstance(scim_token, str):
            raise SecretsUnavailable(f"secret {secret_id}: api_key and scim_token must be strings")
        maps = {}
        for name in ("user_tokens", "identities"):
            found = value.get(name, {})
            if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()
            ):
                raise SecretsUnavailable(f"secret {secret_id}: {name} must map strings to strings")
            maps[name] = {k.strip(): v.strip() for k, v in found.items() if v.strip()}
        identities = {k: v.lower() for k, v in maps["identities"].items()}
        return cls(api_key.strip(), maps["user_tokens"], scim_token.strip(), identities)


@dataclass(frozen=True)
class OnCall:
    """Who may cancel any job in owner-or-on-call mode (ON_CALL, comma-separated): Slack user ids
    (U…/W…), Slack user groups (S…, members asked of Slack), Omni user emails, and webhook senders
    as "<source>:<id>" (e.g. github:583231)."""

    slack_users: frozenset[str] = frozenset()
    slack_groups: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    senders: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, raw: str) -> OnCall:
        entries = [e.strip() for e in raw.split(",") if e.strip()]
        return cls(
            slack_users=frozenset(e for e in entries if e[0] in "UW" and e.isalnum()),
            slack_groups=frozenset(e for e in entries if e[0] == "S" and e.isalnum()),
            emails=frozenset(e.lower() for e in entries if "@" in e and ":" not in e),
            senders=frozenset(e for e in entries if ":" in e),
        )


class SenderPolicy(Protocol):
    """Which senders of one source may use the org key."""

    @property
    def configured(self) -> bool: ...

    def allows(self, requester: Requester) -> bool: ...

    def trusts_identity(self, requester: Requester) -> bool:
        """Whether `requester` is who they say, so that their own mapped Omni token may be used."""
        ...


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

    def trusts_identity(self, requester: Requester) -> bool:
        return True  # Slack writes team_id and user_id into what it signs


@dataclass(frozen=True)
class WebhookSenderPolicy:
    """A webhook source's <SOURCE>_ALLOWED: `scope:user` entries matched against the requester's
    scope (repository, project, brand, service, team) and user_id."""

    senders: SenderList
    trust_claimed_identity: bool = False  # the operator's opt-in for a source whose sender writes who it is

    @property
    def configured(self) -> bool:
        return self.senders.configured

    def allows(self, requester: Requester) -> bool:
        return any(self.senders.allows(requester.scope, user) for user in requester.ids)

    def trusts_identity(self, requester: Requester) -> bool:
        return requester.vouched or self.trust_claimed_identity


def policy_for(settings: Settings, source: str) -> SenderPolicy:
    """The one place a sender policy is chosen: by the source the request came from, for the relay
    and the worker alike (a handed-off GitHub task is judged by GITHUB_ALLOWED, never by Slack's)."""
    if source == "slack":
        return SlackPolicy(settings.slack_allowed_teams, settings.slack_allowed_users, settings.slack_allowed_channels)
    return WebhookSenderPolicy(settings.allowed_senders(source), source in settings.trust_sender_identity)


class NotAllowed(Exception):
    """The relay (or Omni's own rule, checked by the relay) says no. `reason` is for the log; `why`,
    when set, is for the person, in the relay's own words; `details` is what is known of the job."""

    def __init__(self, outcome: Outcome, reason: str, *, why: str = "", details: JobDetails | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.why = why
        self.details = details


def choose_token(requester: Requester, credentials: OmniCredentials, policy: SenderPolicy) -> str:
    """The Omni token to cancel with on `requester`'s behalf, or NotAllowed saying why not."""
    if not (credentials.api_key or credentials.user_tokens):
        raise NotAllowed(Outcome.NOT_CONFIGURED, "no org key and no user tokens in the Omni secret")
    if not policy.configured:  # deny by default: the operator has listed no one for this source yet
        raise NotAllowed(Outcome.NOT_CONFIGURED, f"the {requester.source} allow-list is empty")
    if not policy.allows(requester):
        raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, "sender not on the allow-list")
    if policy.trusts_identity(requester):
        for key in token_keys(requester):
            if token := credentials.user_tokens.get(key):
                return token
    if credentials.api_key:
        return credentials.api_key
    raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, "no Omni token mapped for this sender, and no org key")


def token_keys(requester: Requester) -> tuple[str, ...]:
    """How the Omni secret's user_tokens may name this person: "T0123:U0456", "github:octocat", "github:583231"."""
    keys = [requester.key]
    if requester.stable_id:
        keys.append(f"{requester.workspace or requester.source}:{requester.stable_id}")
    return tuple(keys)
