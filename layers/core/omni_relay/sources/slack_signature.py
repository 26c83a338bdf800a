"""Slack's request signature (v0) and its replay check.

Slack signs "v0:{timestamp}:{raw body}" with the app's signing secret and never resends a slash
command, so a signature seen twice (by any execution environment, within Slack's window) is a
captured request replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

from omni_relay.adapters.dedupe import Deduplicator
from omni_relay.domain.timestamps import unix_seconds
from omni_relay.errors import InvalidSignature, StaleRequest
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import hmac_sha256, matches_any, presented

REPLAY_WINDOW_S = 300
# A signature is claimed for as long as Slack's window accepts it (300 s either side of its
# timestamp) and a minute of clock skew.
SIGNATURE_TTL_S = 2 * REPLAY_WINDOW_S + 60


def verify(request: InboundRequest, signing_secrets: Sequence[str], now: float) -> None:
    """Slack's v0 scheme: HMAC-SHA256 of "v0:{timestamp}:{raw body}", hex, within 5 minutes."""
    signature = request.header("x-slack-signature")
    timestamp = request.header("x-slack-request-timestamp")
    if not signature or not timestamp:
        raise InvalidSignature("Missing Slack signature headers.")
    sent_at = unix_seconds(timestamp)
    if sent_at is None:
        raise InvalidSignature("Malformed Slack request timestamp.")
    if abs(now - sent_at) > REPLAY_WINDOW_S:
        raise StaleRequest("The Slack request timestamp is outside the 5 minute window.")
    base = b"v0:" + timestamp.strip().encode() + b":" + request.body
    expected = ("v0=" + hmac_sha256(s.encode("utf-8"), base).hex() for s in signing_secrets)
    if not matches_any(signature, expected):
        raise InvalidSignature("The Slack signature does not match.")


def first_sight(dedupe: Deduplicator, slack_signature: str) -> bool:
    """False when any execution environment has already seen this signature (the idempotency table),
    compared as verification compares it."""
    return dedupe.first_sight(f"slack-signature:{presented(slack_signature)}", ttl_s=SIGNATURE_TTL_S)
