"""Microsoft Teams outgoing webhook: `@Omni Cancel <job>` in a channel, answered in the thread.

Teams -> a team -> Manage team -> Apps -> Create an outgoing webhook, with this URL as callback URL.
Teams signs the raw body with HMAC-SHA256 keyed by the base64-decoded security token it shows
once (Authorization: HMAC <base64>), waits 5 seconds, and shows the JSON message we return. It has
no follow-up URL, so a cancel Omni cannot finish in time is answered with what is known then
(a configured callback still gets the final result).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from omni_relay.domain.grammar import visible
from omni_relay.domain.identity import Actor, Requester, ids_of, ns
from omni_relay.domain.timestamps import iso_seconds
from omni_relay.errors import InvalidSignature
from omni_relay.presentation.markup import teams_literal
from omni_relay.sources.base import Delivery, SourceConfig, WebhookSource, check_age, dig, text
from omni_relay.sources.request import InboundRequest, Reply
from omni_relay.sources.signing import hmac_sha256, matches_any

_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)  # [^<]: linear, however many unclosed <at> there are
# The @mention is the command word: it must come first (after any opening HTML tags Teams wraps it in).
_LEADING_MENTION = re.compile(r"\s*(?:<(?:p|div|span)\b[^<>]{0,200}>\s*)*<at>([^<]*)</at>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,200}>")


class Teams(WebhookSource):
    name = "teams"
    title = "Microsoft Teams"
    deadline_s = 5.0
    needs_command_word = False  # Teams only calls an outgoing webhook when it is @mentioned
    max_age_s = 3600.0  # the activity's `timestamp` is in the signed body; Teams does not retry

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        scheme, _, signature = request.header("authorization").partition(" ")
        if scheme.lower() != "hmac" or not signature.strip():
            raise InvalidSignature("Missing Authorization: HMAC <signature>.")
        expected = [base64.b64encode(hmac_sha256(self.signing_key(s), request.body)).decode() for s in config.secrets]
        if not matches_any(signature, expected):
            raise InvalidSignature("The Teams signature does not match.")

    def signing_key(self, secret: str) -> bytes:
        """Teams shows the security token base64-encoded; its bytes are the key."""
        try:
            return base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not a Teams security token") from None

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        sender = dig(payload, "from") or {}
        aad, bot_framework = text(dig(sender, "aadObjectId")), text(dig(sender, "id"))
        requester = Requester(
            source=self.name,
            scope=text(dig(payload, "channelData", "tenant", "id")),
            user_id=aad or bot_framework,
            # Teams calls an outgoing webhook only for a message in the team's channel: a member of the team
            # (guests are members too: Teams' payload does not tell them apart).
            actor=Actor.MEMBER if aad else Actor.UNKNOWN,
            ids=ids_of(ns(self.name, "aad", aad), ns(self.name, "user", bot_framework)),
        )
        check_age(iso_seconds(payload.get("timestamp")), now, self.max_age_s, "timestamp")
        if text(payload.get("type")) != "message":
            return Delivery(requester, text(payload.get("id")), ignore="only messages are commands")
        said = text(payload.get("text"))
        # The webhook's own name, as Teams addresses the activity to it; another @mention first is not a command.
        name = text(dig(payload, "recipient", "name")).strip().casefold()
        mention = _LEADING_MENTION.match(said)
        if mention is None or not name or mention.group(1).strip().casefold() != name:
            return Delivery(
                requester, text(payload.get("id")), ignore="the message does not start with this webhook's @mention"
            )
        rest = _TAG.sub(" ", _MENTION.sub(" ", visible(said[mention.end() :])))  # quotes and code never count
        return Delivery(requester, text(payload.get("id")), (rest,))

    def literal(self, text: str) -> str:
        return teams_literal(text)

    def render(self, status: int, body: dict[str, Any]) -> Reply:
        # Teams shows anything but a 200 message as "Sorry, there was a problem": say what happened instead.
        return Reply(200, {"type": "message", "text": str(body.get("message", ""))})


SOURCE = Teams()
