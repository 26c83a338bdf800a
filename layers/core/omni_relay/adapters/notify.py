"""Telling people how a cancel ended after their request was answered: a post to Slack's
response_url, a comment where the webhook source's tool has an API for it, and the callback signed as
Standard Webhooks. Only to allowed hosts (postback.py); failures are logged and counted, never
raised: the cancel itself is done, and repeating it would not make the URL work."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import urllib3

from omni_relay.adapters.postback import PostBack
from omni_relay.domain.model import CancelOutcome
from omni_relay.errors import PostBackRefused
from omni_relay.observability import count, logger
from omni_relay.presentation.messages import RESULT_TYPE, reported
from omni_relay.sources.signing import standard_signature, whsec_key


class Notifier:
    def __init__(self, postback: PostBack, callback_url: str, now: Callable[[], float]) -> None:
        self.postback = postback
        self.callback_url = callback_url
        self._now = now

    def post(self, url: str, message: Mapping[str, Any]) -> None:
        """Post a message back to Slack (response_url)."""
        self._deliver("POST", url, json.dumps(message).encode(), {}, "post-back")

    def comment(self, method: str, url: str, body: Mapping[str, Any], headers: Mapping[str, str], source: str) -> None:
        """A comment through the source's own API (the request a source built for it)."""
        self._deliver(method, url, json.dumps(body).encode(), headers, "comment")
        count("Comments", source=source)

    def callback(self, source: str, outcome: CancelOutcome, text: str, signing_secret: str | None) -> None:
        """The result as a Standard Webhooks message, so the receiver can verify it came from this relay."""
        if not self.callback_url:
            return
        try:
            key = whsec_key(signing_secret or "")
        except ValueError:
            logger.error('callback not sent: the webhooks secret has no whsec_ entry under "callback"')
            post_back_failed("callback_unsigned")
            return
        message_id, sent_at = f"msg_{uuid.uuid4().hex}", int(self._now())
        event = {
            "type": RESULT_TYPE,
            "timestamp": datetime.fromtimestamp(sent_at, UTC).isoformat().replace("+00:00", "Z"),
            "data": {**reported(outcome, text), "source": source},
        }
        body = json.dumps(event).encode()
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": standard_signature(key, message_id, sent_at, body),
        }
        self._deliver("POST", self.callback_url, body, headers, "callback")

    def _deliver(self, method: str, url: str, body: bytes, headers: Mapping[str, str], what: str) -> None:
        try:
            status = self.postback.send(method, url, body, headers)
        except PostBackRefused as exc:
            logger.error(f"{what} refused", extra={"reason": str(exc)})
            post_back_failed("refused")
            return
        except urllib3.exceptions.HTTPError as exc:
            logger.error(f"{what} failed", extra={"reason": type(exc).__name__})
            post_back_failed(type(exc).__name__)
            return
        if status >= 300:
            logger.error(f"{what} rejected", extra={"status": status})
            post_back_failed(str(status))


def post_back_failed(reason: str) -> None:
    """PostBackFailures by reason (the dashboard), and once more without one: the alarm's metric
    (a CloudWatch alarm reads one dimension set; the reasons are open-ended)."""
    count("PostBackFailures", reason=reason)
    count("PostBackFailures")
