"""Who asked: one typed value for every source, made only of what the vendor vouches for.

A verified delivery becomes a Requester: the source; the kind of actor the vendor says it is; each
identifier the vendor vouches for, in a namespace of its own (`github:id:583231` and
`github:login:583231` are different keys and never meet); an email only where the vendor signs it;
and the delivery's trust level. Allow-lists, user_tokens, OnCall, identities, the per-sender limit
and the log line key on these namespaced ids and on nothing else.

Key forms (`canonical` reads configuration entries into them):
  slack:<team id>:<user id>      old "T0123:U0456" read with a deprecation
  github:id:<numeric id>         github:login:<login>; old "github:<login>" read as a login with a
                                 deprecation; old "github:<digits>" refused (a login or an id?)
  jira:account:<accountId>   zendesk:user:<id>   pagerduty:user:<id>   linear:user:<id>
  teams:aad:<AAD object id>  teams:user:<Bot Framework id>
  standard:claimed:<requestedBy>   shared:claimed:<user>   jira:claimed:<accountId>   (a sender's claim)
Old "<source>:<id>" forms of the one-kind sources are read with a deprecation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Actor(StrEnum):
    """What kind of actor the vendor says sent a delivery."""

    MEMBER = "member"  # a person the vendor marks as a member (org member, agent, workspace user)
    OUTSIDER = "outsider"  # a person the vendor marks as outside (a public commenter, an end user)
    BOT = "bot"
    INTEGRATION = "integration"  # an automation or integration acting, not a person
    UNKNOWN = "unknown"  # the vendor's payload says nothing: treated as an outsider


class Trust(StrEnum):
    """How much a delivery proves about who sent it."""

    VENDOR = "vendor-signed"  # the vendor signed it with its secret and wrote the actor itself
    SENDER = "sender-claim"  # a shared token or the sender's own signature: the sender wrote the actor


# Each source's id kinds; the first is the one an old "<source>:<value>" entry meant.
ID_KINDS: Mapping[str, tuple[str, ...]] = {
    "github": ("login", "id"),
    "jira": ("account", "claimed"),
    "zendesk": ("user",),
    "pagerduty": ("user", "agent"),
    "linear": ("user",),
    "teams": ("aad", "user"),
    "standard": ("claimed",),
    "shared": ("claimed",),
}
# Sources whose every delivery is the sender's own claim (no vendor marks members there): a scope entry
# admits the holder of the source's secret. Elsewhere a sender claim passes only a `scope:sender` entry.
SENDER_SOURCES = frozenset({"standard", "shared"})
_SLACK_OLD = re.compile(r"[TE][A-Z0-9]{1,20}:[UW][A-Z0-9]{1,20}")
_SLACK = re.compile(r"slack:[TE][A-Z0-9]{1,20}:[UW][A-Z0-9]{1,20}")


@dataclass(frozen=True)
class Requester:
    """Who asked, the same fields for every source:
    - source: where the request came from (slack, github, jira, …);
    - actor: what kind of actor the vendor says it is;
    - trust: vendor-signed, or the sender's own claim;
    - ids: the namespaced identifiers (vendor-vouched ones, or `<source>:claimed:…` for a claim);
    - user_id: the vendor's own id for the person, for its API and for display only, never matched;
    - scope: where they asked, which allow-lists name (Slack channel, GitHub repository, Jira project,
      Zendesk brand, PagerDuty service, Linear team, Teams tenant, a sender's own scope);
    - workspace: the Slack workspace (team id); empty for the other sources;
    - email: the person's email where the vendor's signed payload gives it (Jira's author, Linear's actor);
    - public: whether the place the request came from can be read by outsiders (a public repository)."""

    source: str
    user_id: str = ""
    scope: str = ""
    workspace: str = ""
    actor: Actor = Actor.UNKNOWN
    trust: Trust = Trust.VENDOR
    ids: tuple[str, ...] = ()
    email: str = ""
    public: bool = False

    @property
    def vouched(self) -> bool:
        return self.trust is Trust.VENDOR

    @property
    def member(self) -> bool:
        return self.vouched and self.actor is Actor.MEMBER

    @property
    def principal(self) -> str:
        """The one key that names who is accountable for this request (per-sender limits, the log):
        the vendor's first id for a vendor-signed delivery (one that names no one is nobody in
        particular, never the sender), else the holder of the source's secret."""
        if self.vouched:
            return self.ids[0] if self.ids else f"{self.source}:anonymous"
        return f"{self.source}:sender"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "user_id": self.user_id,
            "scope": self.scope,
            "workspace": self.workspace,
            "actor": self.actor.value,
            "trust": self.trust.value,
            "ids": list(self.ids),
        }
        if self.email:
            data["email"] = self.email
        if self.public:
            data["public"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requester:
        """A queued task's requester. Tasks queued before the identity model carry no actor or ids:
        a Slack one is rebuilt from what Slack signed; any other is refused when the worker judges it."""
        source = str(data.get("source") or "slack")
        workspace = str(data.get("workspace") or data.get("team_id") or "")
        user_id = str(data.get("user_id") or "")
        scope = str(data.get("scope") or data.get("channel_id") or "")
        if "ids" not in data:
            if source == "slack" and workspace and user_id:
                return slack(workspace, user_id, scope)
            return cls(source, user_id, scope, actor=Actor.UNKNOWN, trust=Trust.SENDER)
        ids = data.get("ids")
        return cls(
            source=source,
            user_id=user_id,
            scope=scope,
            workspace="" if workspace == source else workspace,
            actor=Actor(data["actor"]) if data.get("actor") in Actor._value2member_map_ else Actor.UNKNOWN,
            trust=Trust.VENDOR if data.get("trust") == Trust.VENDOR.value else Trust.SENDER,
            ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
            email=str(data.get("email") or ""),
            public=data.get("public") is True,
        )


def slack(team: str, user: str, channel: str = "") -> Requester:
    """A Slack user, as Slack signs them: every Slack request comes from a member of a workspace."""
    return Requester("slack", user, channel, team, Actor.MEMBER, Trust.VENDOR, (f"slack:{team}:{user}",))


def claimed(source: str, scope: str, who: str) -> Requester:
    """A delivery whose sender writes who asked (a Standard Webhooks sender, a shared-secret sender): the
    sending integration is what is proven; the person it names is its claim."""
    return Requester(
        source, who, scope, actor=Actor.INTEGRATION, trust=Trust.SENDER, ids=ids_of(ns(source, "claimed", who))
    )


def ns(source: str, kind: str, value: str) -> str:
    """One namespaced id, or '' when there is no value."""
    return f"{source}:{kind}:{value}" if value else ""


def ids_of(*ids: str) -> tuple[str, ...]:
    return tuple(i for i in ids if i)


@dataclass(frozen=True)
class Canonical:
    """A configuration entry read as a namespaced id: `key` ('' when refused), and what to tell the operator."""

    key: str
    problem: str = ""  # refused: why, naming the new form
    deprecated: str = ""  # accepted, but written in an old form: the new one


def canonical(entry: str, source: str = "") -> Canonical:
    """A key as user_tokens, identities, OnCall or an allow-list's user part name a person.
    `source` is the allow-list's own source when the entry leaves it out (`id:583231`)."""
    entry = entry.strip()
    if source and not entry.startswith(f"{source}:"):
        entry = f"{source}:{entry}"
    if _SLACK.fullmatch(entry):
        return Canonical(entry)
    if _SLACK_OLD.fullmatch(entry):
        return Canonical(f"slack:{entry}", deprecated=f"slack:{entry}")
    name, _, rest = entry.partition(":")
    kinds = ID_KINDS.get(name)
    if not kinds or not rest:
        return Canonical("", problem=f"{entry!r} is not an identity of a known source (e.g. github:id:583231)")
    kind, _, value = rest.partition(":")
    if value and kind in kinds:
        if name == "github" and kind == "id" and not value.isdigit():
            return Canonical("", problem=f"{entry!r}: a GitHub id is a number (github:login:<login> for a login)")
        return Canonical(entry)
    # An old "<source>:<value>" entry, from before the namespaces.
    if name == "github":
        if rest.isdigit():
            return Canonical(
                "",
                problem=f"{entry!r} could be a login or a numeric id: write github:id:{rest} or github:login:{rest}",
            )
        return Canonical(f"github:login:{rest}", deprecated=f"github:login:{rest}")
    if name == "teams":
        kind = "aad" if re.fullmatch(r"[0-9a-fA-F-]{36}", rest) else "user"
        return Canonical(f"teams:{kind}:{rest}", deprecated=f"teams:{kind}:{rest}")
    new = f"{name}:{kinds[0]}:{rest}"
    return Canonical(new, deprecated=new)
