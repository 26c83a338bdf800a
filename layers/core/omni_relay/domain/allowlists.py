"""The operator's lists of who may act, read from configuration once, at cold start: Slack's
allow-lists, each webhook source's <SOURCE>_ALLOWED, and ON_CALL. Entries name people by their
namespaced ids (identity.py); an entry that could name two people admits no one and is a setup problem."""

from __future__ import annotations

from dataclasses import dataclass

from omni_relay.domain.identity import SENDER_SOURCES, Requester, Trust, canonical


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
