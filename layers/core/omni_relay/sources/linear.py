"""Linear: `/omni-cancel <job>` in an issue comment (or a new issue), answered by a comment.

Webhook (Settings -> API -> Webhooks) for the data types Comments and Issues. Linear signs the raw
body with HMAC-SHA256, hex (Linear-Signature), names each delivery (Linear-Delivery) and puts the
send time in the body (webhookTimestamp, ms): requests older than a minute are refused as replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omni_relay.domain.identity import Actor, Requester, ids_of, ns
from omni_relay.errors import InvalidSignature
from omni_relay.presentation.markup import code_span
from omni_relay.sources.base import CommentCall, Delivery, SourceConfig, WebhookSource, check_age, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hex_hmacs, matches_any

API = "https://api.linear.app/graphql"
COMMENT_CREATE = "mutation CommentCreate($input: CommentCreateInput!) { commentCreate(input: $input) { success } }"


class Linear(WebhookSource):
    name = "linear"
    title = "Linear"
    max_age_s = 60.0  # Linear's own advice: reject a webhookTimestamp more than a minute away

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        signature = request.header("linear-signature")
        if not signature:
            raise InvalidSignature("Missing Linear-Signature.")
        if not matches_any(signature, hex_hmacs(config.secrets, request.body)):
            raise InvalidSignature("The Linear signature does not match.")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        # The send time is in the signed body, read once by the pipeline after the signature held.
        sent_ms = payload.get("webhookTimestamp")
        sent_at = sent_ms / 1000 if isinstance(sent_ms, int) and not isinstance(sent_ms, bool) else None
        check_age(sent_at, now, self.max_age_s, "webhookTimestamp")
        kind, action, data = text(payload.get("type")), text(payload.get("action")), dig(payload, "data") or {}
        actor = dig(payload, "actor") or {}
        if kind == "Comment":
            issue, team = text(dig(data, "issueId")), text(dig(data, "issue", "teamId"))
            texts: tuple[str, ...] = (text(dig(data, "body")),)
        else:
            issue, team = text(dig(data, "id")), text(dig(data, "teamId"))
            texts = (text(dig(data, "title")), text(dig(data, "description")))
        person = text(dig(actor, "id"))
        actor_type = text(dig(actor, "type")).lower()
        requester = Requester(
            source=self.name,
            scope=team,
            user_id=person,
            # Linear names the actor's type (a user, an OAuth app, an integration); not whether a user is a guest.
            actor=Actor.MEMBER if actor_type == "user" else Actor.INTEGRATION if actor_type else Actor.UNKNOWN,
            ids=ids_of(ns(self.name, "user", person)),
            email=text(dig(actor, "email")) if actor_type == "user" else "",
        )
        delivery_id = request.header("linear-delivery") or text(payload.get("webhookId"))
        thread = {"issue": issue} if issue else {}
        if kind not in ("Comment", "Issue") or action != "create":
            return Delivery(
                requester, delivery_id, ignore=f"the relay acts on new comments and issues, not {kind} {action}"
            )
        return Delivery(requester, delivery_id, texts, thread)

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        return bool(config.get("api_token") and thread.get("issue"))

    def literal(self, text: str) -> str:
        return code_span(text)  # Markdown: no mention, link or HTML from the prompt

    def comment(self, thread: Mapping[str, str], body: str, config: SourceConfig) -> CommentCall | None:
        if not self.can_comment(thread, config):
            return None
        token = config.get("api_token")
        variables = {"input": {"issueId": thread["issue"], "body": body}}
        return CommentCall(
            "POST",
            config.get("api_url") or API,
            {"query": COMMENT_CREATE, "variables": variables},
            {"Authorization": token},
        )


SOURCE = Linear()
