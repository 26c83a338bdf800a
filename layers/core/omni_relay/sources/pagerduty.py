"""PagerDuty: `/omni-cancel <job>` in an incident note (or an incident's title), answered by a note.

Generic Webhook (v3) subscription (Integrations -> Generic Webhooks (v3)) with the events
incident.annotated and incident.triggered. PagerDuty signs the raw body with HMAC-SHA256 and sends
every valid signature during a secret rotation: X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...].
It retries 5xx, 429 and timeouts (5 s) for up to 48 hours: each delivery is named by X-Webhook-Id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omni_relay.domain.identity import Actor, Requester, ids_of, ns
from omni_relay.domain.timestamps import iso_seconds
from omni_relay.errors import InvalidSignature
from omni_relay.sources.base import CommentCall, Delivery, SourceConfig, WebhookSource, check_age, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hex_hmacs, matches_any

API = "https://api.pagerduty.com"
ACTED_ON = ("incident.annotated", "incident.triggered")


class PagerDuty(WebhookSource):
    name = "pagerduty"
    title = "PagerDuty"
    deadline_s = 5.0
    # PagerDuty retries 5xx, 429 and timeouts for up to 48 hours; occurred_at is in the signed body.
    max_age_s = 49 * 3600.0

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        header = request.header("x-pagerduty-signature")
        presented = [s.strip() for s in header.split(",") if s.strip()][:10]
        if not presented:
            raise InvalidSignature("Missing X-PagerDuty-Signature.")
        expected = list(hex_hmacs(config.secrets, request.body, "v1="))
        if not any(matches_any(signature, expected) for signature in presented):
            raise InvalidSignature("No PagerDuty signature matches.")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        event = dig(payload, "event") or {}
        event_type, data = text(dig(event, "event_type")), dig(event, "data") or {}
        check_age(iso_seconds(dig(event, "occurred_at")), now, self.max_age_s, "occurred_at")
        agent = dig(event, "agent") or {}
        if event_type == "incident.annotated":
            incident, texts = text(dig(data, "incident", "id")), (text(dig(data, "content")),)
            service = text(dig(data, "incident", "service", "id"))
        else:
            incident, texts = text(dig(data, "id")), (text(dig(data, "title")),)
            service = text(dig(data, "service", "id"))
        agent_id, person = text(dig(agent, "id")), text(dig(agent, "type")) == "user_reference"
        requester = Requester(
            source=self.name,
            scope=service,
            user_id=agent_id,
            # A user acted; any other agent (an email or API integration, a service) is not a person.
            actor=Actor.MEMBER if person else Actor.INTEGRATION,
            ids=ids_of(ns(self.name, "user" if person else "agent", agent_id)),
        )
        delivery_id = request.header("x-webhook-id") or text(dig(event, "id"))
        thread = {"incident": incident} if incident.isalnum() else {}
        if event_type not in ACTED_ON:
            return Delivery(requester, delivery_id, ignore=f"the relay acts on incident notes, not {event_type or '?'}")
        return Delivery(requester, delivery_id, texts, thread)

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        return bool(config.get("api_token") and config.get("email") and thread.get("incident"))

    def comment(self, thread: Mapping[str, str], body: str, config: SourceConfig) -> CommentCall | None:
        if not self.can_comment(thread, config):
            return None
        token, email = config.get("api_token"), config.get("email")
        return CommentCall(
            "POST",
            f"{(config.get('api_url') or API).rstrip('/')}/incidents/{quote(thread['incident'], safe='')}/notes",
            {"note": {"content": body}},
            {
                "Authorization": f"Token token={token}",
                "From": email,
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
        )


SOURCE = PagerDuty()
