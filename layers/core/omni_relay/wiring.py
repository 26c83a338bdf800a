"""The composition root: the Runtime (every port the handlers use, with its real adapter) built
once per execution environment from Settings, and the current one. Tests build a Runtime with fakes
instead (same interfaces), so nothing needs patching."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from omni_relay.audit import AuditLog, Recorder, Viewer, default_audit, history
from omni_relay.auth import policy_for
from omni_relay.aws_json import AwsCallFailed
from omni_relay.deadline import budget_s
from omni_relay.dedupe import Deduplicator, default_dedupe
from omni_relay.domain import CancelOutcome, Outcome, ReplyTarget
from omni_relay.errors import RelayError, SettingsUnavailable, SourceDisabled, SourceSetupError
from omni_relay.following import CAP_GRACE_S, Follow, poll_delay_s
from omni_relay.grammar import omni_host_of
from omni_relay.handoff import CancelTask, HandoffFailed, Notice, SqsTaskQueue, TaskQueue
from omni_relay.identity import Requester
from omni_relay.job_records import JobRecords, default_job_records
from omni_relay.messages import RELAY_MARK, full_text, given_up
from omni_relay.notify import Notifier
from omni_relay.observability import count, logger
from omni_relay.omni import OmniClient, OmniPort
from omni_relay.omni_budget import BudgetedOmni, OmniBudget
from omni_relay.postback import AllowedHosts, PostBack
from omni_relay.ratelimit import SharedSenderLimit
from omni_relay.secret_store import SecretStore, SecretsUnavailable, default_store
from omni_relay.service import CancelService
from omni_relay.settings import Settings
from omni_relay.signing import presented, whsec_key
from omni_relay.sliding_window import Window, shared_window
from omni_relay.sources.base import SourceConfig, WebhookSource
from omni_relay.sources.registry import webhook_source
from omni_relay.sources.slack import REPLAY_WINDOW_S, signing_secrets
from omni_relay.sources.webhook import NOTIFY_RESERVE_S

SLACK_SIGNATURE_TTL_S = 2 * REPLAY_WINDOW_S + 60

if TYPE_CHECKING:
    from omni_relay.deadline import Deadline
    from omni_relay.ownership import OwnerOrOnCall
    from omni_relay.slack_api import SlackDirectoryPort, SlackMessagesPort, SlackUnfurlPort


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
        self.settings = settings
        self.secrets = secrets
        self.now = now
        self.queue = queue
        # The callback URL is configured by the operator too: its host is allowed with it.
        callback_host = urlsplit(settings.callback_url).netloc if settings.callback_url else ""
        self.postback = postback or PostBack(AllowedHosts.parse(f"{settings.postback_hosts},{callback_host}"))
        self.notifier = Notifier(self.postback, settings.callback_url, now)
        table = settings.idempotency_table
        self.dedupe = dedupe or default_dedupe(table)
        # The per-sender limit counts across every environment, on the requester's namespaced identity.
        per_sender = settings.sender_rate_limit_per_min
        senders = sender_limit or (shared_window(table, "sender", per_sender, now) if per_sender else None)
        self.rate_limit = SharedSenderLimit(senders)
        # Omni's per-key budget, one for every environment of both functions (omni_budget.py).
        limit = settings.omni_requests_per_min
        window = budget or (shared_window(table, "omni-budget", limit, now) if limit else None)
        self.omni = BudgetedOmni(omni, OmniBudget(window) if window else None)
        self.records = records or default_job_records(table, now)
        self._slack_messages = slack_messages
        self.ownership = self._ownership(slack) if settings.who_may_cancel == "owner-or-on-call" else None
        self.service = CancelService(
            self.omni,
            secrets,
            settings.omni_secret_id,
            lambda source: policy_for(settings, source),
            records=self.records,
            follow_s=self.follow_up_s + CAP_GRACE_S if settings.follow_up_minutes else 0.0,
            ownership=self.ownership,
            now=now,
        )
        self._unfurler = unfurler  # chat.unfurl: made on the first link to unfurl
        self.omni_host = omni_host_of(settings.omni_base_url)
        self.recorder = Recorder(
            audit or default_audit(settings.audit_table),
            self.omni_host,
            settings.audit_retention_days,
            lambda: self.now(),  # the Runtime's clock, which tests set
        )
        report_setup(*settings.identity_problems)

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

    # Cancelling ---------------------------------------------------------------------------------

    def sender_wait_s(self, requester: Requester) -> float:
        """0 if this sender may cancel now; else the seconds until the per-sender limit allows it."""
        wait = self.rate_limit.wait_s(requester.principal)  # the namespaced identity, and nothing else
        if wait:
            logger.warning("sender over the relay's rate limit", extra={"retry_after_s": round(wait, 1)})
            count("RateLimited", source=requester.source)
        return wait

    def hand_off(self, task: CancelTask, delay_s: int = 0) -> bool:
        """Queue `task` for the worker (a cancel to finish, or with `follow` a job to follow). False
        when the relay cannot promise a post-back."""
        if self.queue is None:
            return False
        if task.reply.url and not self.postback.allowed.allows(task.reply.url):
            logger.warning("no hand-off: reply URL host not allowed", extra={"job_id": task.job_id})
            return False
        try:
            self.queue.send(task, delay_s=delay_s)
        except HandoffFailed as exc:
            logger.error("hand-off to the queue failed", extra={"job_id": task.job_id, "reason": str(exc)})
            count("HandoffFailures")
            return False
        count("Handoffs" if task.follow is None else "FollowUps")
        return True

    # Telling a job's owner who cancelled it (owner_notice.py) -------------------------------------

    def notice_for(self, task: CancelTask, outcome: CancelOutcome) -> CancelTask | None:
        """The task that tells the job's owner about this cancel; None when there is nothing to tell."""
        if not self.settings.notify_owner or outcome.outcome not in (Outcome.CANCELLED, Outcome.STOPPING):
            return None
        details = outcome.details
        known = (details.owner_id, details.prompt, details.chat_url) if details else ("", "", "")
        return replace(task, reply=ReplyTarget(), follow=None, notice=Notice(self.now(), *known))

    def tell_owner_later(self, task: CancelTask, outcome: CancelOutcome) -> None:
        """Queue the owner's notice for the worker: the requester's answer never waits for it."""
        notice = self.notice_for(task, outcome)
        if notice is None:
            return
        if self.queue is None:
            logger.warning("owner not told: no task queue", extra={"job_id": task.job_id})
            count("OwnerNotices", outcome="no_queue")
            return
        try:
            self.queue.send(notice)
        except HandoffFailed as exc:
            logger.warning("owner not told: the notice could not be queued", extra={"reason": str(exc)})
            count("OwnerNotices", outcome="not_queued")

    @property
    def slack_messages(self) -> SlackMessagesPort:
        if self._slack_messages is None:
            from omni_relay.slack_api import SlackApi

            self._slack_messages = SlackApi(self.settings.slack_api_url)
        return self._slack_messages

    # History -------------------------------------------------------------------------------------

    def history(self, requester: Requester, n: int) -> dict[str, Any]:
        """`/omni-cancel history [n]`: the decisions `requester` may see (audit.Viewer), as a Slack message."""
        from omni_relay.deadline import Deadline
        from omni_relay.slack_api import WhoUnknown
        from omni_relay.sources.slack_blocks import render_history

        duty = self.settings.on_call
        viewer = Viewer(
            requester.principal, on_call=requester.user_id in duty.slack_users or requester.principal in duty.senders
        )
        if self.ownership is not None and not viewer.on_call:
            try:
                policy = policy_for(self.settings, requester.source)
                deadline = Deadline.within(self.slack_budget_s)
                on_call, me = self.ownership.standing(
                    requester, self.service.credentials(), policy.trusts_identity(requester), deadline
                )
                viewer = Viewer(requester.principal, me, on_call)
            except (WhoUnknown, SecretsUnavailable) as exc:  # their own requests only
                logger.warning("history: who asked is unknown, showing their own requests", extra={"why": str(exc)})
        try:
            entries = history(self.recorder.log, viewer, n, self.now())
        except AwsCallFailed as exc:
            logger.error("history: the audit table cannot be read", extra={"reason": exc.code})
            count("AuditReadFailures", reason=exc.code[:40])
            text = "The record of cancels cannot be read right now. Try again in a minute."
            return {"response_type": "ephemeral", "text": text}
        return render_history(entries, self.now(), n)

    def _ownership(self, slack: SlackDirectoryPort | None) -> OwnerOrOnCall:
        from omni_relay.ownership import OwnerOrOnCall  # only in owner-or-on-call mode
        from omni_relay.slack_api import SlackApi

        return OwnerOrOnCall(
            self.omni,
            slack or SlackApi(self.settings.slack_api_url),
            self.settings.on_call,
            self.slack_bot_token,
            max_age_s=self.settings.identity_max_age_s,
        )

    def slack_bot_token(self) -> str:
        """The Slack app's bot token from the Slack secret ("bot_token"), for asking Slack who someone is."""
        from omni_relay.slack_api import WhoUnknown

        try:
            value = self.secrets.get_json(self.settings.slack_secret_id).get("bot_token", "")
        except SecretsUnavailable:
            raise WhoUnknown("the relay cannot read its Slack secret", setup=True) from None
        return value.strip() if isinstance(value, str) else ""

    # Following a cancel until the job has stopped (following.py) -----------------------------------

    @property
    def follow_up_s(self) -> float:
        return self.settings.follow_up_minutes * 60

    def follow_up(self, task: CancelTask) -> bool:
        """Follow `task`'s job until it has stopped: join the job's chain when one is running (one
        chain per job, whoever asked), else queue its first poll. False when nothing will follow it."""
        if not self.settings.follow_up_minutes:
            return False
        if not self.records.join(task.job_id, task.to_json(), self.follow_up_s + CAP_GRACE_S):
            count("FollowUpsJoined")
            return True
        first = replace(task, follow=Follow(since=self.now()))
        if self.hand_off(first, delay_s=poll_delay_s(1)):
            return True
        self.records.followers(task.job_id)  # nothing follows the job: the next cancel starts a chain
        return False

    def followers(self, task: CancelTask) -> list[CancelTask]:
        """Everyone waiting on `task`'s follow-up chain, which ends now (at least `task` itself)."""
        waiting = [task]
        for text in self.records.followers(task.job_id):
            try:
                other = CancelTask.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue
            if (other.reply, other.source) != (task.reply, task.source) and all(
                (other.reply, other.source) != (w.reply, w.source) for w in waiting
            ):
                waiting.append(other)
        return waiting

    def requeue(self, task: CancelTask, follow: Follow, delay_s: int) -> None:
        if self.queue is None:
            raise HandoffFailed("no task queue")
        self.queue.send(replace(task, follow=follow), delay_s=delay_s)

    def tell(self, task: CancelTask, outcome: CancelOutcome, given_up_after: int = 0) -> None:
        """Post a result found after the request was answered where it came from: Slack's
        response_url (replacing the relay's first message), or the webhook source's comment API and
        the callback."""
        from omni_relay.sources.slack_blocks import render, render_given_up

        if task.source == "slack":
            message = render_given_up(outcome, given_up_after) if given_up_after else render(outcome)
            self.post(task.reply.url, {**message, "replace_original": True})
            return
        source = webhook_source(task.source)
        if source is None:
            logger.error("cannot tell anyone: the task names no known source", extra={"source": task.source})
            return
        try:
            config: SourceConfig | None = self.webhook_config(source.name)
        except RelayError as exc:
            logger.error("cannot comment back: no webhook settings", extra={"reason": exc.message})
            config = None
        text = given_up(task.job_id, given_up_after) if given_up_after else ""
        self.notify(source, task.reply.thread, outcome, config, text)

    # Slack ---------------------------------------------------------------------------------------

    @property
    def slack_budget_s(self) -> float:
        """Time for Omni within Slack's deadline; with a queue, the hand-off's share is kept back."""
        reserved = self.settings.handoff_reserve_s if self.queue else 0.0
        return budget_s(self.settings.slack_deadline_s, self.settings.deadline_margin_s, reserved_s=reserved)

    def slack_signing_secrets(self) -> list[str]:
        try:
            value = self.secrets.get_json(self.settings.slack_secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its Slack settings right now.") from exc
        return signing_secrets(value)

    def post(self, url: str, message: dict[str, Any]) -> None:
        self.notifier.post(url, message)

    def first_sight(self, slack_signature: str) -> bool:
        """Slack's replay check, shared by every execution environment (the idempotency table): the signature
        as verification compares it, claimed for as long as Slack's window accepts it (300 s either side of
        its timestamp) and a minute of clock skew."""
        key = f"slack-signature:{presented(slack_signature)}"
        return self.dedupe.first_sight(key, ttl_s=SLACK_SIGNATURE_TTL_S)

    def unfurl_token(self) -> str:
        """The bot token for chat.unfurl; '' when the Slack secret has none (or cannot be read): unfurls are off."""
        from omni_relay.slack_api import WhoUnknown

        try:
            return self.slack_bot_token()
        except WhoUnknown:
            return ""

    def unfurl(self, target: dict[str, str], unfurls: dict[str, Any], deadline: Deadline) -> bool:
        """chat.unfurl with the bot token; False, logged and counted, when Slack did not take it."""
        from omni_relay.slack_api import SlackApi, UnfurlFailed

        if self._unfurler is None:
            self._unfurler = SlackApi(self.settings.slack_api_url)
        try:
            self._unfurler.unfurl(target, unfurls, self.unfurl_token(), deadline)
        except UnfurlFailed as exc:
            logger.warning("Slack did not take the unfurl", extra={"reason": exc.reason})
            count("UnfurlFailures", reason="setup" if exc.setup else "slack")
            return False
        return True

    # Webhook sources -------------------------------------------------------------------------

    @property
    def command_word(self) -> str:
        return self.settings.command_word

    def job_id_path(self, source: str) -> str:
        return self.settings.job_id_path(source)

    def webhook_config(self, source: str) -> SourceConfig:
        """The source's entry in the webhooks secret (SourceDisabled when it has none)."""
        if not self.settings.webhook_secret_id:
            raise SourceDisabled("No webhook source is enabled on this relay.")
        try:
            value = self.secrets.get_json(self.settings.webhook_secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its webhook settings right now.") from exc
        found = webhook_source(source)
        try:
            if found is not None:
                return SourceConfig.from_secret(value, source, found.keys, found.signing_key)
            return SourceConfig.from_secret(value, source, decode=whsec_key)  # the callback's signing key
        except SourceSetupError as exc:
            logger.error("webhook source not set up", extra={"source": source, "why": exc.message})
            count("SetupIncomplete", reason="webhook_key")
            raise

    def webhook_budget_s(self, source: WebhookSource) -> float:
        """Time for Omni within the caller's deadline, keeping back what the hand-off and the comment need."""
        reserved = NOTIFY_RESERVE_S + (self.settings.handoff_reserve_s if self.queue else 0.0)
        return budget_s(source.deadline_s, self.settings.deadline_margin_s, reserved_s=reserved)

    def can_follow_up(self, source: WebhookSource, thread: Mapping[str, str], config: SourceConfig) -> bool:
        """Whether a result found later can still reach someone: the callback, or a comment API."""
        return bool(self.settings.callback_url) or source.can_comment(thread, config)

    def notify(
        self,
        source: WebhookSource,
        thread: Mapping[str, str],
        outcome: CancelOutcome,
        config: SourceConfig | None,
        text: str = "",
    ) -> None:
        """Tell the webhook's people how the cancel ended: a comment where their tool has an API for
        it, and the signed callback when one is configured. Never raises."""
        text = text or full_text(outcome, source.literal)
        outbound = source.comment(thread, f"{text}\n{RELAY_MARK}", config) if config and thread else None
        if outbound is not None:
            self.notifier.comment(outbound.method, outbound.url, outbound.body, outbound.headers, source.name)
        if self.settings.callback_url:
            try:
                signing = self.webhook_config("callback").secrets[0]
            except RelayError:
                signing = None
            self.notifier.callback(source.name, outcome, text, signing)


def report_setup(refused: tuple[str, ...], old: tuple[str, ...]) -> None:
    """Identity entries that admit no one, or are written in an old form: the operator's to fix."""
    for problem in refused:
        logger.error("identity entry refused: it admits no one", extra={"why": problem})
        count("SetupIncomplete", reason="identity_entry")
    for entry in old:
        logger.warning("identity entry in an old form (still read)", extra={"new_form": entry})


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
