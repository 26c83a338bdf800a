"""Zendesk: `/omni-cancel <job>` in a ticket comment, answered by an internal note on the ticket.

Webhook (Admin Center -> Apps and integrations -> Webhooks) subscribed to the event
"Ticket comment added" (zen:event-type:ticket.comment_added), or called by a trigger with a JSON body
holding ticket_id, brand_id, comment, user and user_role ({{current_user.role}}); for a trigger, set
"format": "trigger" in the zendesk entry of the webhooks secret. Zendesk signs "{timestamp}{raw body}" with
HMAC-SHA256, base64 (X-Zendesk-Webhook-Signature, X-Zendesk-Webhook-Signature-Timestamp).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omni_relay.domain.identity import Actor, Requester, ids_of, ns
from omni_relay.domain.timestamps import iso_seconds
from omni_relay.errors import InvalidSignature
from omni_relay.sources.base import CommentCall, Delivery, SourceConfig, WebhookSource, check_age, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hmac_sha256, matches_any

COMMENT_ADDED = "zen:event-type:ticket.comment_added"


class Zendesk(WebhookSource):
    name = "zendesk"
    title = "Zendesk"
    # Zendesk signs the timestamp "to help prevent replay attacks" but publishes no window; its retries
    # (409, 429/503 with a short Retry-After, timeouts) come within minutes. An hour tolerates both.
    max_age_s = 3600.0

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        signature = request.header("x-zendesk-webhook-signature")
        timestamp = request.header("x-zendesk-webhook-signature-timestamp")
        if not signature or not timestamp:
            raise InvalidSignature("Missing the Zendesk webhook signature headers.")
        signed = timestamp.encode() + request.body
        expected = (base64.b64encode(hmac_sha256(s.encode(), signed)).decode() for s in config.secrets)
        if not matches_any(signature, expected):
            raise InvalidSignature("The Zendesk signature does not match.")
        check_age(iso_seconds(timestamp), now, self.max_age_s, "X-Zendesk-Webhook-Signature-Timestamp")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        # Which shape the operator's webhook sends is its setting, never the body's: a trigger's body holds
        # what people wrote, and must not be able to pass itself off as Zendesk's own event JSON.
        trigger = config is not None and config.get("format") == "trigger"
        event_type = "" if trigger else text(payload.get("type")) or "(none)"
        delivery_id = request.header("x-zendesk-webhook-invocation-id") or text(payload.get("id"))
        if not trigger:  # an event-subscribed webhook
            detail, comment = dig(payload, "detail") or {}, dig(payload, "event", "comment") or {}
            ticket, brand = text(dig(detail, "id")), text(dig(detail, "brand_id"))
            user = text(dig(comment, "author", "id"))
            body = text(dig(comment, "body"))
            staff = dig(comment, "author", "is_staff")
            actor = Actor.MEMBER if staff is True else Actor.OUTSIDER if staff is False else Actor.UNKNOWN
        else:  # a trigger's JSON body, its placeholders filled in by Zendesk: {{current_user.role}} says who
            ticket, brand = text(payload.get("ticket_id")), text(payload.get("brand_id"))
            user, body = text(payload.get("user")), text(payload.get("comment"))
            role = text(payload.get("user_role")).strip().lower()
            actor = Actor.MEMBER if role in ("agent", "admin") else Actor.OUTSIDER if role else Actor.UNKNOWN
        requester = Requester(
            source=self.name, scope=brand, user_id=user, actor=actor, ids=ids_of(ns(self.name, "user", user))
        )
        thread = {"ticket": ticket} if ticket.isdigit() else {}
        if not trigger and event_type != COMMENT_ADDED:
            return Delivery(requester, delivery_id, ignore=f"the relay acts on new ticket comments, not {event_type}")
        return Delivery(requester, delivery_id, (body,), thread)

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        return bool(config.get("site_url") and config.get("email") and config.get("api_token") and thread.get("ticket"))

    def comment(self, thread: Mapping[str, str], body: str, config: SourceConfig) -> CommentCall | None:
        if not self.can_comment(thread, config):
            return None
        site, email, token = config.get("site_url"), config.get("email"), config.get("api_token")
        basic = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        return CommentCall(
            "PUT",
            f"{site.rstrip('/')}/api/v2/tickets/{quote(thread['ticket'], safe='')}.json",
            {"ticket": {"comment": {"body": body, "public": False}}},
            {"Authorization": f"Basic {basic}"},
        )


SOURCE = Zendesk()
