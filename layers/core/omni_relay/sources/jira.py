"""Jira Cloud: `/omni-cancel <job>` in an issue comment (or summary/description), answered by a comment.

Two ways to send, both accepted:
- an admin webhook (Settings -> System -> WebHooks) with a secret: X-Hub-Signature: sha256=<hex>
  HMAC of the raw body; each delivery is named by X-Atlassian-Webhook-Identifier;
- Jira Automation "Send web request" with a header the admin adds (X-Omni-Relay-Token by default,
  or `header` in this source's secret entry) holding the shared secret.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omni_relay.domain.identity import Actor, Requester, Trust, ids_of, ns
from omni_relay.errors import InvalidSignature, SourceSetupError
from omni_relay.sources.base import (
    TOKEN_HEADER,
    CommentCall,
    Delivery,
    SourceConfig,
    WebhookSource,
    check_age,
    dig,
    text,
)
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hex_hmacs, matches_any

ACTED_ON = ("comment_created", "jira:issue_created")
# Atlassian's accountType: a person with an Atlassian account, an app, or a service-desk customer.
ACCOUNT_TYPES = {"atlassian": Actor.MEMBER, "app": Actor.BOT, "customer": Actor.OUTSIDER}


class Jira(WebhookSource):
    name = "jira"
    title = "Jira"
    # Atlassian: a retried webhook may arrive up to 30 minutes late; the admin webhook signs `timestamp`.
    max_age_s = 3600.0
    keys = ("secrets", "tokens")  # the admin webhook's HMAC secrets; the Automation rule's header tokens

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        signature = request.header("x-hub-signature")
        if signature:
            if not matches_any(signature, hex_hmacs(config.secrets, request.body, "sha256=")):
                raise InvalidSignature("The Jira webhook signature does not match.")
            return
        token = request.header(config.get("header") or TOKEN_HEADER)
        if not token:
            raise InvalidSignature("Missing X-Hub-Signature (admin webhook) or the Automation secret header.")
        if not config.tokens:
            raise SourceSetupError(
                'The Jira Automation token is not set up: put it under "tokens" in the jira entry of the webhooks '
                'secret ("secrets" are the admin webhook\'s HMAC keys only; rotate one that an Automation rule held).'
            )
        if not matches_any(token, config.tokens):
            raise InvalidSignature("The Jira Automation secret does not match.")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        event = text(payload.get("webhookEvent"))
        issue = dig(payload, "issue") or {}
        fields = dig(issue, "fields") or {}
        author = dig(payload, "comment", "author") or dig(payload, "user") or {}
        signed = request.header("x-hub-signature") != ""  # verified: the admin webhook, Atlassian signs it all
        if signed:
            sent_ms = payload.get("timestamp")
            sent_at = sent_ms / 1000 if isinstance(sent_ms, int) and not isinstance(sent_ms, bool) else None
            check_age(sent_at, now, self.max_age_s, "timestamp")
        account = text(dig(author, "accountId"))
        if signed:
            requester = Requester(
                source=self.name,
                scope=text(dig(fields, "project", "key")),
                user_id=account,
                actor=ACCOUNT_TYPES.get(text(dig(author, "accountType")), Actor.UNKNOWN),
                ids=ids_of(ns(self.name, "account", account)),
                email=text(dig(author, "emailAddress")),  # present when the person's profile shows it
            )
        else:  # an Automation rule's body is written by whoever wrote the rule: all of it is a claim
            requester = Requester(
                source=self.name,
                scope=text(dig(fields, "project", "key")),
                user_id=account,
                actor=Actor.INTEGRATION,
                trust=Trust.SENDER,
                ids=ids_of(ns(self.name, "claimed", account)),
            )
        key = text(dig(issue, "key"))
        thread = {"issue": key} if key else {}
        delivery_id = request.header("x-atlassian-webhook-identifier")
        if event and event not in ACTED_ON:
            return Delivery(requester, delivery_id, ignore=f"the relay acts on new comments and issues, not {event}")
        comment = text(dig(payload, "comment", "body"))
        texts = (comment,) if comment else (text(dig(fields, "summary")), text(dig(fields, "description")))
        return Delivery(requester, delivery_id, texts, thread)

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        return bool(config.get("site_url") and config.get("email") and config.get("api_token") and thread.get("issue"))

    def comment(self, thread: Mapping[str, str], body: str, config: SourceConfig) -> CommentCall | None:
        if not self.can_comment(thread, config):
            return None
        site, email, token = config.get("site_url"), config.get("email"), config.get("api_token")
        basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        document = {
            "type": "doc",
            "version": 1,
            # Text nodes only, one paragraph a line: ADF renders no markup, mention or link from the text.
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in body.splitlines() if line
            ],
        }
        return CommentCall(
            "POST",
            f"{site.rstrip('/')}/rest/api/3/issue/{quote(thread['issue'], safe='')}/comment",
            # Internal in Jira Service Management (customers never see it); an ordinary comment elsewhere.
            {"body": document, "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]},
            {"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )


SOURCE = Jira()
