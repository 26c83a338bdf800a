"""Who may cancel, and with which Omni credential.

Deny by default: a source's allow-list is checked first, always; a mapped token never bypasses it.
Then the credential, in two modes (docs/who-may-cancel.md):
- per-user tokens: the Omni secret maps a namespaced id ("slack:T0123:U0456", "github:id:583231",
  …; identity.py) to an Omni personal access token, so Omni itself enforces "only the owner or an
  org admin"; used only where the vendor vouches for who the sender is (never for an identity the sender writes itself);
- org key: one org API key for every allow-listed sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from omni_relay.domain.allowlists import AllowList, SenderList
from omni_relay.domain.credentials import OmniCredentials
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import Outcome
from omni_relay.errors import NotAllowed
from omni_relay.settings import Settings


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
