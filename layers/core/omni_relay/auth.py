"""Who may cancel, and with which Omni credential.

Deny by default: a source's allow-list is checked first, always; a mapped token never bypasses it.
Then the credential, in two modes (docs/who-may-cancel.md):
- per-user tokens: the Omni secret maps a namespaced id ("slack:T0123:U0456", "github:id:583231",
  …; identity.py) to an Omni personal access token, so Omni itself enforces "only the owner or an
  org admin"; used only where the vendor vouches for who the sender is (never for an identity the sender writes itself);
- org key: one org API key for every allow-listed sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.domain import JobDetails, Outcome
from omni_relay.identity import SENDER_SOURCES, Requester, Trust, canonical
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
    """Which senders of a webhook source may cancel (<SOURCE>_ALLOWED, comma-separated):
    - `scope` or `scope:*` admits the people the vendor marks as members of that scope; for a source
      whose every delivery is its sender's claim (Standard Webhooks, shared secret) the holder of the
      source's secret, to whom the operator gave it;
    - `scope:sender` admits the holder of the source's header token (a Jira Automation rule);
    - `scope:<kind>:<id>` admits that one identity (identity.py's key forms without the source:
      `acme/data:id:583231`, `*:login:octocat`, `DATA:account:5b10…`);
    `*` as the scope is any scope. Empty allows no one: deny by default. An old entry that could name
    two people (`acme/data:583231`: a login or an id?) admits no one and is a setup problem."""

    scopes: frozenset[str] = frozenset()
    people: frozenset[tuple[str, str]] = frozenset()
    problems: tuple[str, ...] = ()  # refused entries, for the setup log
    deprecated: tuple[str, ...] = ()  # entries read in an old form: their new form

    @classmethod
    def parse(cls, raw: str, source: str = "") -> SenderList:
        scopes, people, problems, deprecated = set(), set(), [], []
        for entry in (e.strip() for e in raw.split(",")):
            if not entry:
                continue
            scope, _, who = entry.partition(":")
            scope, who = scope.strip() or "*", who.strip()
            if who in ("", "*"):
                scopes.add(scope)
                continue
            if who == "sender":
                people.add((scope, f"{source}:sender"))
                continue
            read = canonical(who, source)
            if read.problem:
                problems.append(f"{source.upper()}_ALLOWED entry {entry!r}: {read.problem}")
                continue
            if read.deprecated:
                deprecated.append(f"{source.upper()}_ALLOWED {entry!r} -> {scope}:{read.deprecated.split(':', 1)[1]}")
            people.add((scope, read.key))
        return cls(frozenset(scopes), frozenset(people), tuple(problems), tuple(deprecated))

    @property
    def configured(self) -> bool:
        return bool(self.scopes or self.people)

    def refusal(self, requester: Requester) -> str:
        """Why `requester` may not cancel ('' when they may): the reason logged and counted."""
        # The holder of the source's token is named only by a delivery that carries only that token.
        named = (*requester.ids, requester.principal) if requester.trust is Trust.SENDER else requester.ids
        if any((s == "*" or s == requester.scope) and key in named for s, key in self.people):
            return ""
        if "*" in self.scopes or (requester.scope and requester.scope in self.scopes):
            if requester.member or (requester.trust is Trust.SENDER and requester.source in SENDER_SOURCES):
                return ""
            return f"actor_{requester.actor.value}"  # in scope, but not a member the vendor vouches for
        return "not_listed"


@dataclass(frozen=True)
class OmniCredentials:
    api_key: str = field(default="", repr=False)
    user_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)  # namespaced id -> token
    scim_token: str = field(default="", repr=False)  # reads Omni's users (owner-or-on-call); else api_key
    identities: Mapping[str, str] = field(default_factory=dict)  # "github:id:583231" -> the person's email
    problems: tuple[str, ...] = ()  # keys refused or read in an old form, for the setup log

    @classmethod
    def from_secret(cls, secret_id: str, value: Mapping[str, Any]) -> OmniCredentials:
        api_key, scim_token = value.get("api_key", ""), value.get("scim_token", "")
        if not isinstance(api_key, str) or not isinstance(scim_token, str):
            raise SecretsUnavailable(f"secret {secret_id}: api_key and scim_token must be strings")
        maps: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for name in ("user_tokens", "identities"):
            found = value.get(name, {})
            if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()
            ):
                raise SecretsUnavailable(f"secret {secret_id}: {name} must map strings to strings")
            maps[name] = {}
            for k, v in found.items():
                read = canonical(k)
                if read.problem:
                    problems.append(f"{name} key {read.problem}")
                elif v.strip():
                    if read.deprecated:
                        problems.append(f"{name} key {k!r} is in an old form: write {read.deprecated!r}")
                    if read.key.startswith("github:login:"):
                        problems.append(f"{name} key {k!r}: a login can be renamed and taken; prefer github:id:<n>")
                    maps[name][read.key] = v.strip()
        identities = {k: v.lower() for k, v in maps["identities"].items()}
        return cls(api_key.strip(), maps["user_tokens"], scim_token.strip(), identities, tuple(problems))


@dataclass(frozen=True)
class OnCall:
    """Who may cancel any job in owner-or-on-call mode (ON_CALL, comma-separated): Slack user ids
    (U…/W…), Slack user groups (S…, members asked of Slack), Omni user emails, and people of any
    source by their namespaced id (github:id:583231, slack:T0123:U0456; identity.py)."""

    slack_users: frozenset[str] = frozenset()
    slack_groups: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    senders: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> OnCall:
        entries = [e.strip() for e in raw.split(",") if e.strip()]
        senders, problems = set(), []
        for entry in (e for e in entries if ":" in e):
            read = canonical(entry)
            if read.problem:
                problems.append(f"ON_CALL entry {read.problem}")
            else:
                senders.add(read.key)
                if read.deprecated:
                    problems.append(f"ON_CALL entry {entry!r} is in an old form: write {read.deprecated!r}")
        return cls(
            slack_users=frozenset(e for e in entries if e[0] in "UW" and e.isalnum()),
            slack_groups=frozenset(e for e in entries if e[0] == "S" and e.isalnum()),
            emails=frozenset(e.lower() for e in entries if "@" in e and ":" not in e),
            senders=frozenset(senders),
            problems=tuple(problems),
        )


class SenderPolicy(Protocol):
    """Which senders of one source may use the org key."""

    @property
    def configured(self) -> bool: ...

    def refusal(self, requester: Requester) -> str:
        """'' when `requester` may cancel; else the reason, for the log and the metric."""
        ...

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

    def refusal(self, requester: Requester) -> str:
        if not self.teams.allows(requester.workspace):
            return "team_not_listed"
        if not self.users.allows(requester.user_id):
            return "user_not_listed"
        return "" if self.channels.allows(requester.scope) else "channel_not_listed"

    def trusts_identity(self, requester: Requester) -> bool:
        return requester.vouched  # Slack writes team_id and user_id into what it signs


@dataclass(frozen=True)
class WebhookSenderPolicy:
    """A webhook source's <SOURCE>_ALLOWED, matched against the requester's scope, actor and ids."""

    senders: SenderList
    trust_claimed_identity: bool = False  # the operator's opt-in for a source whose sender writes who it is

    @property
    def configured(self) -> bool:
        return self.senders.configured

    def refusal(self, requester: Requester) -> str:
        return self.senders.refusal(requester)

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
    if reason := policy.refusal(requester):
        raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, reason)
    if policy.trusts_identity(requester):
        for key in requester.ids:  # namespaced: a login never finds an id's token
            if token := credentials.user_tokens.get(key):
                return token
    if credentials.api_key:
        return credentials.api_key
    raise NotAllowed(Outcome.SENDER_NOT_ALLOWED, "no_token_mapped")
