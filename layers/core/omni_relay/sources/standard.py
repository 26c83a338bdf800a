"""Standard Webhooks (https://www.standardwebhooks.com): the generic source for any other sender.

Send {"jobId": "<job>", "requestedBy": "<who>", "source": "<system>"} (or the same under "data").
Headers webhook-id, webhook-timestamp (Unix s, within 5 minutes) and webhook-signature
("v1,<base64>" entries separated by spaces) over "{id}.{timestamp}.{raw body}", keyed by the
base64 after "whsec_". Repeats of a webhook-id are answered once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omni_relay.domain.identity import claimed
from omni_relay.domain.timestamps import unix_seconds
from omni_relay.errors import InvalidSignature, StaleRequest
from omni_relay.presentation.messages import RESULT_TYPE
from omni_relay.sources.base import Delivery, SourceConfig, WebhookSource, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import matches_any, standard_signature, whsec_key

REPLAY_WINDOW_S = 300


class StandardWebhooks(WebhookSource):
    name = "standard"
    title = "Standard Webhooks"
    deadline_s = 15.0
    default_job_path = "jobId || data.jobId"
    needs_command_word = False  # the delivery is the command
    max_age_s = REPLAY_WINDOW_S

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        message_id, timestamp = request.header("webhook-id"), request.header("webhook-timestamp")
        presented = request.header("webhook-signature")
        if not (message_id and timestamp and presented):
            raise InvalidSignature("Missing webhook-id, webhook-timestamp or webhook-signature.")
        sent_at = unix_seconds(timestamp)
        if sent_at is None:
            raise InvalidSignature("Malformed webhook-timestamp.")
        if abs(now - sent_at) > REPLAY_WINDOW_S:
            raise StaleRequest("The webhook-timestamp is outside the 5 minute tolerance.")
        expected = [standard_signature(self.signing_key(s), message_id, sent_at, request.body) for s in config.secrets]
        signatures = [s for s in presented.split(" ") if s.startswith("v1,")][:10]
        if not any(matches_any(signature, expected) for signature in signatures):
            raise InvalidSignature("No webhook-signature matches.")

    def signing_key(self, secret: str) -> bytes:
        return whsec_key(secret)

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        data = dig(payload, "data")
        body = data if isinstance(data, Mapping) else payload
        who = text(body.get("requestedBy"))
        requester = claimed(self.name, text(body.get("source")), who)
        if text(payload.get("type")) == RESULT_TYPE:  # the relay's own callback, sent back to it
            return Delivery(
                requester, request.header("webhook-id"), ignore="This is the relay's own callback, not a command."
            )
        return Delivery(requester, request.header("webhook-id"))


SOURCE = StandardWebhooks()
