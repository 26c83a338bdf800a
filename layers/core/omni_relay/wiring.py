"""The composition root: the Runtime, a plain record of every adapter and use case the handlers
use, built once per execution environment from Settings, and the current one. It only composes:
behaviour lives in the use cases. Tests build a Runtime with fakes for the adapters (same
interfaces), so nothing needs patching."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from omni_relay.adapters.dedupe import Deduplicator, default_dedupe
from omni_relay.adapters.job_records import JobRecords, default_job_records
from omni_relay.adapters.notify import Notifier
from omni_relay.adapters.omni import OmniClient, OmniPort
from omni_relay.adapters.omni_budget import BudgetedOmni, OmniBudget
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.adapters.ratelimit import SharedSenderLimit
from omni_relay.adapters.secret_store import SecretStore, default_store
from omni_relay.adapters.sliding_window import Window, shared_window
from omni_relay.adapters.sqs_queue import SqsTaskQueue
from omni_relay.domain.deadline import budget_s
from omni_relay.domain.grammar import omni_host_of
from omni_relay.domain.tasks import TaskQueue
from omni_relay.settings import Settings, report_identity_problems
from omni_relay.sources.slack_secret import SlackSecret
from omni_relay.sources.webhook_secret import WebhookConfigs
from omni_relay.usecases.audit import AuditLog, Recorder, default_audit
from omni_relay.usecases.auth import policy_for
from omni_relay.usecases.authorized_omni import AuthorizedOmni
from omni_relay.usecases.following import CAP_GRACE_S, Following
from omni_relay.usecases.handoff import Handoff
from omni_relay.usecases.later import LaterResults

if TYPE_CHECKING:
    from omni_relay.adapters.slack_api import SlackApi, SlackDirectoryPort, SlackMessagesPort, SlackUnfurlPort
    from omni_relay.usecases.ownership import OwnerOrOnCall


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
        budget: Window | None = None,
        sender_limit: Window | None = None,
        records: JobRecords | None = None,
        slack: SlackDirectoryPort | None = None,
        unfurler: SlackUnfurlPort | None = None,
        slack_messages: SlackMessagesPort | None = None,
        audit: AuditLog | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        table, s = settings.idempotency_table, settings
        self.settings, self.secrets, self.now = settings, secrets, now
        # Adapters: the outside world.
        callback_host = urlsplit(s.callback_url).netloc if s.callback_url else ""  # the operator's too
        self.postback = postback or PostBack(AllowedHosts.parse(f"{s.postback_hosts},{callback_host}"))
        self.notifier = Notifier(self.postback, s.callback_url, now)
        self.dedupe = dedupe or default_dedupe(table)
        self.records = records or default_job_records(table, now)
        # Omni's per-key budget and the per-sender limit, each one count for every environment.
        omni_window = budget or _window(table, "omni-budget", s.omni_requests_per_min, now)
        self.omni = BudgetedOmni(omni, OmniBudget(omni_window) if omni_window else None)
        self.sender_limit = SharedSenderLimit(
            sender_limit or _window(table, "sender", s.sender_rate_limit_per_min, now)
        )
        self.slack_secret = SlackSecret(secrets, s.slack_secret_id)
        self.webhook_configs = WebhookConfigs(secrets, s.webhook_secret_id)
        self._slack_api: SlackApi | None = None  # made on first use: most requests never call Slack
        self._slack_messages, self._unfurler = slack_messages, unfurler
        self.omni_host = omni_host_of(s.omni_base_url)
        # Use cases.
        owner_rule = s.who_may_cancel == "owner-or-on-call"
        self.ownership: OwnerOrOnCall | None = self._ownership(slack) if owner_rule else None
        follow_up_s = s.follow_up_minutes * 60
        self.authorized = AuthorizedOmni(
            self.omni,
            secrets,
            s.omni_secret_id,
            partial(policy_for, s),
            records=self.records,
            follow_s=follow_up_s + CAP_GRACE_S if follow_up_s else 0.0,
            ownership=self.ownership,
            now=now,
        )
        self.recorder = Recorder(audit or default_audit(s.audit_table), self.omni_host, s.audit_retention_days, now)
        self.handoff = Handoff(queue, self.postback.allowed, now, notify_owner=s.notify_owner)
        self.later = LaterResults(self.notifier, self.webhook_configs)
        self.following = Following(
            self.authorized, self.records, self.handoff, self.later, follow_up_s=follow_up_s, now=now
        )
        # Time budgets: Omni's share of each caller's deadline, the hand-off's kept back when there is a queue.
        self.handoff_reserve_s = s.handoff_reserve_s if queue else 0.0
        self.slack_budget_s = budget_s(s.slack_deadline_s, s.deadline_margin_s, reserved_s=self.handoff_reserve_s)
        report_identity_problems(s)

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
    def slack_messages(self) -> SlackMessagesPort:
        return self._slack_messages or self._slack()

    @property
    def unfurler(self) -> SlackUnfurlPort:
        return self._unfurler or self._slack()

    def _slack(self) -> SlackApi:
        from omni_relay.adapters.slack_api import SlackApi

        if self._slack_api is None:
            self._slack_api = SlackApi(self.settings.slack_api_url)
        return self._slack_api

    def _ownership(self, slack: SlackDirectoryPort | None) -> OwnerOrOnCall:
        from omni_relay.usecases.ownership import OwnerOrOnCall  # only in owner-or-on-call mode

        s = self.settings
        return OwnerOrOnCall(
            self.omni, slack or self._slack(), s.on_call, self.slack_secret.bot_token, max_age_s=s.identity_max_age_s
        )


def _window(table: str, name: str, per_minute: int, now: Callable[[], float]) -> Window | None:
    return shared_window(table, name, per_minute, now) if per_minute else None


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
