"""The real adapters, built once per execution environment from Settings. Tests build a Runtime
with fakes instead (same interfaces), so nothing needs patching."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3

from omni_relay.auth import policy_for
from omni_relay.dedupe import Deduplicator, default_dedupe
from omni_relay.domain import CancelOutcome, Requester
from omni_relay.errors import RelayError, SettingsUnavailable
from omni_relay.handoff import CancelTask, HandoffFailed, SqsTaskQueue, TaskQueue
from omni_relay.messages import describe
from omni_relay.observability import count, logger
from omni_relay.omni import OmniClient, OmniPort
from omni_relay.postback import AllowedHosts, PostBack, PostBackRefused
from omni_relay.ratelimit import SenderRateLimit
from omni_relay.secret_store import SecretStore, SecretsUnavailable, default_store
from omni_relay.service import CancelService
from omni_relay.settings import Settings
from omni_relay.signing import standard_signature, whsec_key
from omni_relay.sources.webhook import (
    NOTIFY_RESERVE_S,
    SourceConfig,
    SourceDisabled,
    WebhookSource,
)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        omni: OmniPort,
        *,
        queue: TaskQueue | None = None,
        postback: PostBack | None = None,
        dedupe: Deduplicator | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.now = now
        self.queue = queue
        # The callback URL is configured by the operator too: its host is allowed with it.
        callback_host = urlsplit(settings.callback_url).netloc if settings.callback_url else ""
        self.postback = postback or PostBack(AllowedHosts.parse(f"{settings.postback_hosts},{callback_host}"))
        self.dedupe = dedupe or default_dedupe(settings.idempotency_table)
        self.service = CancelService(
            omni, secrets, settings.omni_secret_id, lambda source: policy_for(settings, source)
        )
        self.rate_limit = SenderRateLimit(settings.sender_rate_limit_per_min)

    def sender_wait_s(self, requester: Requester) -> float:
        """0 if this sender may cancel now; else the seconds until the per-sender limit allows it."""
        wait = self.rate_limit.wait_s(f"{requester.source}:{requester.key}")
        if wait:
            logger.warning("sender over the relay's rate limit", extra={"retry_after_s": round(wait, 1)})
            count("RateLimited", source=requester.source)
        return wait

    @classmethod
    def from_env(cls) -> Runtime:
        settings = Settings.from_env()
        omni = OmniClient(
            settings.omni_base_url,
            connect_timeout=settings.omni_connect_timeout_s,
            read_timeout=settings.omni_read_timeout_s,
            max_attempts=settings.omni_max_attempts,
        )
        queue = SqsTaskQueue(settings.cancel_queue_url) if settings.cancel_queue_url else None
        store = default_store(settings.secrets_max_age_s, settings.secrets_extension_port)
        return cls(settings, store, omni, queue=queue)

    @property
    def slack_budget_s(self) -> float:
        """Time for Omni within Slack's deadline; with a queue, the hand-off's share is kept back."""
        budget = self.settings.slack_deadline_s - self.settings.deadline_margin_s
        return budget - (self.settings.handoff_reserve_s if self.queue else 0.0)

    def post(self, url: str, message: dict[str, Any]) -> None:
        """Post a message back (Slack response_url)."""
        self._deliver("POST", url, json.dumps(message).encode(), {}, "post-back")

    def _deliver(self, method: str, url: str, body: bytes, headers: Mapping[str, str], what: str) -> None:
        """Failures are logged and counted, never raised: the cancel itself is done, and repeating it
        would not make the URL work."""
        try:
            status = self.postback.send(method, url, body, headers)
        except PostBackRefused as exc:
            logger.error(f"{what} refused", extra={"reason": str(exc)})
            count("PostBackFailures", reason="refused")
            return
        except urllib3.exceptions.HTTPError as exc:
            logger.error(f"{what} failed", extra={"reason": type(exc).__name__})
            count("PostBackFailures", reason=type(exc).__name__)
            return
        if status >= 300:
            logger.error(f"{what} rejected", extra={"status": status})
            count("PostBackFailures", reason=str(status))

    def hand_off(self, task: CancelTask) -> bool:
        """Queue `task` for the worker. False when the relay cannot promise a post-back."""
        if self.queue is None:
            return False
        if task.reply_to and not self.postback.allowed.allows(task.reply_to):
            logger.warning("no hand-off: reply URL host not allowed", extra={"job_id": task.job_id})
            return False
        try:
            self.queue.send(task)
        except HandoffFailed as exc:
            logger.error("hand-off to the queue failed", extra={"job_id": task.job_id, "reason": str(exc)})
            count("HandoffFailures")
            return False
        count("Handoffs")
        return True

    def slack_signing_secrets(self) -> list[str]:
        """Every accepted signing secret: {"signing_secrets": [current, previous]} or {"signing_secret": s}."""
        secret_id = self.settings.slack_secret_id
        try:
            value = self.secrets.get_json(secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its Slack settings right now.") from exc
        listed = value.get("signing_secrets", [])
        single = value.get("signing_secret", "")
        candidates = (listed if isinstance(listed, list) else []) + [single]
        secrets = [s.strip() for s in candidates if isinstance(s, str) and s.strip()]
        if not secrets:
            raise SettingsUnavailable("The relay's Slack secret has no signing secret.")
        return secrets

    # Webhook sources -------------------------------------------------------------------------

    @property
    def command_word(self) -> str:
        return self.settings.command_word

    def webhook_config(self, source: str) -> SourceConfig:
        """The source's entry in the webhooks secret: {"secrets": [...], <API credentials>} or a bare secret."""
        value = self._webhooks_secret()
        entry = value.get(source)
        if isinstance(entry, str):
            entry = {"secrets": [entry]}
        if not isinstance(entry, dict):
            raise SourceDisabled(f"The {source} webhook source is not enabled on this relay.")
        listed = entry.get("secrets", [])
        secrets = tuple(
            s.strip() for s in (listed if isinstance(listed, list) else []) if isinstance(s, str) and s.strip()
        )
        if not secrets:
            raise SourceDisabled(f"The {source} webhook source is not enabled on this relay.")
        return SourceConfig(secrets, entry)

    def _webhooks_secret(self) -> dict[str, Any]:
        if not self.settings.webhook_secret_id:
            raise SourceDisabled("No webhook source is enabled on this relay.")
        try:
            return self.secrets.get_json(self.settings.webhook_secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its webhook settings right now.") from exc

    def job_id_path(self, source: str) -> str:
        return self.settings.job_id_path(source)

    def webhook_budget_s(self, source: WebhookSource) -> float:
        """Time for Omni within the caller's deadline, keeping back what the hand-off and the comment need."""
        budget = source.deadline_s - self.settings.deadline_margin_s - NOTIFY_RESERVE_S
        return budget - (self.settings.handoff_reserve_s if self.queue else 0.0)

    def can_follow_up(self, source: WebhookSource, thread: Mapping[str, str]) -> bool:
        """Whether a result found later can still reach someone: the callback, or a comment API."""
        if self.settings.callback_url:
            return True
        try:
            return source.comment(thread, "", self.webhook_config(source.name)) is not None
        except RelayError:
            return False

    def notify(self, source_name: str, thread: Mapping[str, str], outcome: CancelOutcome, text: str = "") -> None:
        """Tell the webhook's people how the cancel ended: a comment where their tool has an API for it,
        and the signed callback when one is configured. Never raises."""
        from omni_relay.sources.registry import webhook_source

        source = webhook_source(source_name)
        text = text or describe(outcome)
        try:
            config = self.webhook_config(source_name)
        except RelayError as exc:
            logger.error("cannot comment back: no webhook settings", extra={"reason": exc.message})
            config = None
        outbound = source.comment(thread, text, config) if source and config and thread else None
        if outbound is not None:
            self._deliver(
                outbound.method, outbound.url, json.dumps(outbound.body).encode(), outbound.headers, "comment"
            )
            count("Comments", source=source_name)
        if self.settings.callback_url:
            self._callback(source_name, outcome, text)

    def _callback(self, source_name: str, outcome: CancelOutcome, text: str) -> None:
        """The result as a Standard Webhooks message, so the receiver can verify it came from this relay."""
        try:
            signing = self.webhook_config("callback").secrets[0]
            key = whsec_key(signing)
        except (RelayError, ValueError):
            logger.error('callback not sent: the webhooks secret has no whsec_ entry under "callback"')
            count("PostBackFailures", reason="callback_unsigned")
            return
        message_id, sent_at = f"msg_{uuid.uuid4().hex}", int(self.now())
        event = {
            "type": "omni.job.cancel.result",
            "timestamp": datetime.fromtimestamp(sent_at, UTC).isoformat().replace("+00:00", "Z"),
            "data": {**outcome.as_dict(), "message": text, "source": source_name},
        }
        body = json.dumps(event).encode()
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": standard_signature(key, message_id, sent_at, body),
        }
        self._deliver("POST", self.settings.callback_url, body, headers, "callback")


_current: Runtime | None = None


def current() -> Runtime:
    """The execution environment's Runtime: built from the environment on first use, then kept."""
    global _current
    if _current is None:
        _current = Runtime.from_env()
    return _current


def use(value: Runtime | None) -> None:
    """Hand in a Runtime (tests, the local stack); None goes back to building it from the environment."""
    global _current
    _current = value
