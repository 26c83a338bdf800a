"""Senders that cannot sign (Opsgenie, ServiceNow outbound REST, scripts): a shared secret in a header.

Accepted as `Authorization: Bearer <secret>`, `Authorization: Basic <any user>:<secret>`, or the
header X-Omni-Relay-Token (or `header` in this source's secret entry). There is no replay guard,
so prefer a signing source when the sender can sign; keep this secret long and rotate it.
A delivery asks only with /omni-cancel in a description field (an alert that merely names a job
never cancels it); the job is the one after it, else jobId, alert.details.jobId (Opsgenie) or
data.jobId; the sender from user, alert.username or caller_id, the scope from source or integrationName.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from omni_relay.domain.identity import claimed
from omni_relay.errors import InvalidSignature
from omni_relay.sources.base import TOKEN_HEADER, Delivery, SourceConfig, WebhookSource, dig, text
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import matches_any


class SharedSecret(WebhookSource):
    name = "shared"
    title = "Shared-secret webhook"
    default_job_path = "jobId || alert.details.jobId || data.jobId"
    keys = ("tokens",)  # nothing is signed: a token in a header (old entries' "secrets" are read as tokens)

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        scheme, _, credential = request.header("authorization").partition(" ")
        presented = request.header(config.get("header") or TOKEN_HEADER)
        if scheme.lower() == "bearer":
            presented = credential.strip()
        elif scheme.lower() == "basic":
            try:
                presented = base64.b64decode(credential.strip(), validate=True).decode().partition(":")[2]
            except (binascii.Error, ValueError):
                presented = ""
        if not presented:
            raise InvalidSignature("Missing the shared secret (Authorization or X-Omni-Relay-Token).")
        if not matches_any(presented, config.tokens):
            raise InvalidSignature("The shared secret does not match.")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        alert = dig(payload, "alert") or {}
        user = text(payload.get("user")) or text(dig(alert, "username")) or text(payload.get("caller_id"))
        scope = text(payload.get("source")) or text(payload.get("integrationName"))
        requester = claimed(self.name, scope, user)
        texts = tuple(
            t
            for t in (
                text(dig(alert, "message")),
                text(dig(alert, "description")),
                text(payload.get("short_description")),
                text(payload.get("description")),
            )
            if t
        )
        return Delivery(requester, request.header("x-request-id") or text(dig(alert, "alertId")), texts)


SOURCE = SharedSecret()
