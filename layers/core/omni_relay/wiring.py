"""The real adapters, built once per execution environment from Settings. Tests build a Runtime
with fakes instead (same interfaces), so nothing needs patching."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import urllib3

from omni_relay.auth import SlackPolicy
from omni_relay.dedupe import Deduplicator, default_dedupe
from omni_relay.errors import SettingsUnavailable
from omni_relay.handoff import CancelTask, HandoffFailed, SqsTaskQueue, TaskQueue
from omni_relay.observability import count, logger
from omni_relay.omni import OmniClient, OmniPort
from omni_relay.postback import AllowedHosts, PostBack, PostBackRefused
from omni_relay.secret_store import SecretStore, SecretsUnavailable, default_store
from omni_relay.service import CancelService
from omni_relay.settings import Settings


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
        self.postback = postback or PostBack(AllowedHosts.parse(settings.postback_hosts))
        self.dedupe = dedupe or default_dedupe(settings.idempotency_table)
        self.service = CancelService(omni, secrets, settings.omni_secret_id)
        self.slack_policy = SlackPolicy(
            settings.slack_allowed_teams, settings.slack_allowed_users, settings.slack_allowed_channels
        )

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
        """Post a message back (Slack response_url). Failures are logged and counted, never raised:
        the cancel itself is done, and repeating it would not make the URL work."""
        try:
            status = self.postback.post_json(url, message)
        except PostBackRefused as exc:
            logger.error("post-back refused", extra={"reason": str(exc)})
            count("PostBackFailures", reason="refused")
            return
        except urllib3.exceptions.HTTPError as exc:
            logger.error("post-back failed", extra={"reason": type(exc).__name__})
            count("PostBackFailures", reason=type(exc).__name__)
            return
        if status >= 300:
            logger.error("post-back rejected", extra={"status": status})
            count("PostBackFailures", reason=str(status))

    def hand_off(self, task: CancelTask) -> bool:
        """Queue `task` for the worker. False when the relay cannot promise a post-back."""
        if self.queue is None:
            return False
        if not self.postback.allowed.allows(task.reply_to):
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
