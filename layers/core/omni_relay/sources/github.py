"""GitHub: `/omni-cancel <job>` in an issue or pull-request comment (or a new issue), answered by a comment.

Webhook (repository or organization settings -> Webhooks): content type application/json, the secret
from the webhooks secret, events "Issue comments" and "Issues". GitHub signs the raw body with
HMAC-SHA256 (X-Hub-Signature-256: sha256=<hex>) and names each delivery (X-GitHub-Delivery).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from omni_relay.domain.identity import Actor, Requester, ids_of, ns
from omni_relay.domain.timestamps import iso_seconds
from omni_relay.errors import InvalidSignature
from omni_relay.presentation.markup import code_span
from omni_relay.sources.base import CommentCall, Delivery, SourceConfig, WebhookSource, check_age, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hex_hmacs, matches_any

API = "https://api.github.com"
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


class GitHub(WebhookSource):
    name = "github"
    title = "GitHub"
    # GitHub does not retry a failed delivery; an admin may redeliver one by hand within the hour.
    max_age_s = 3600.0
    deadline_s = 10.0

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        signature = request.header("x-hub-signature-256")
        if not signature:
            raise InvalidSignature("Missing X-Hub-Signature-256.")
        if not matches_any(signature, hex_hmacs(config.secrets, request.body, "sha256=")):
            raise InvalidSignature("The GitHub signature does not match.")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        event, action = request.header("x-github-event"), text(payload.get("action"))
        repo = text(dig(payload, "repository", "full_name"))
        sender = dig(payload, "sender") or {}
        said = dig(payload, "comment") if event == "issue_comment" else dig(payload, "issue")
        numeric = text(dig(sender, "id"))
        requester = Requester(
            source=self.name,
            scope=repo,
            user_id=text(dig(sender, "login")),
            actor=_actor(text(dig(sender, "type")), text(dig(said, "author_association"))),
            # The numeric id cannot be renamed; the login can. Never one key for both.
            ids=ids_of(
                ns(self.name, "id", numeric if numeric.isdigit() else ""),
                ns(self.name, "login", text(dig(sender, "login"))),
            ),
            public=dig(payload, "repository", "private") is not True,  # a public repository's comments are public
        )
        delivery_id = request.header("x-github-delivery")
        number = text(dig(payload, "issue", "number"))
        thread = {"repo": repo, "number": number} if _REPO.fullmatch(repo) and number.isdigit() else {}
        ignore, texts = "", tuple[str, ...]()
        if event == "ping":
            ignore = "pong: the webhook reaches the relay"
        elif text(dig(sender, "type")) == "Bot":
            ignore = "events from bots are not commands"
        elif event != _shape(payload):  # the header is not signed; the body is
            ignore = f"the signed body is not an {event or 'unnamed'} event"
        elif event == "issue_comment" and action == "created":
            check_age(iso_seconds(dig(payload, "comment", "created_at")), now, self.max_age_s, "comment.created_at")
            texts = (text(dig(payload, "comment", "body")),)
        elif event == "issues" and action == "opened":
            check_age(iso_seconds(dig(payload, "issue", "created_at")), now, self.max_age_s, "issue.created_at")
            texts = (text(dig(payload, "issue", "title")), text(dig(payload, "issue", "body")))
        else:
            ignore = f"the relay acts on new issue comments and new issues, not {event or 'this'} {action}".rstrip()
        if ignore:
            return Delivery(requester, delivery_id, ignore=ignore)
        return Delivery(requester, delivery_id, texts, thread)

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        return bool(config.get("api_token") and thread.get("repo") and thread.get("number"))

    def literal(self, text: str) -> str:
        return code_span(text)  # Markdown: no mention, link or HTML from the prompt

    def comment(self, thread: Mapping[str, str], body: str, config: SourceConfig) -> CommentCall | None:
        if not self.can_comment(thread, config):
            return None
        token = config.get("api_token")
        base = config.get("api_url") or API
        return CommentCall(
            "POST",
            f"{base.rstrip('/')}/repos/{thread['repo']}/issues/{thread['number']}/comments",
            {"body": body},
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "omni-cancel-relay",
            },
        )


MEMBERS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def _actor(sender_type: str, association: str) -> Actor:
    """GitHub's author_association says whether the author belongs to the repository: its owner, a
    member of its organization, or a collaborator. Contributors and strangers are outsiders."""
    if sender_type == "Bot":
        return Actor.BOT
    return Actor.MEMBER if association in MEMBERS else Actor.OUTSIDER


def _shape(payload: Mapping[str, Any]) -> str:
    """The event type the signed body itself shows (issue_comment, issues, or something else)."""
    if any(key in payload for key in ("discussion", "pull_request_review", "review")):
        return "other"
    if isinstance(payload.get("issue"), dict):
        return "issue_comment" if isinstance(payload.get("comment"), dict) else "issues"
    return "other"


SOURCE = GitHub()
