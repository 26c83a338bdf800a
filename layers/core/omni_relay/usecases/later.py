"""Delivering a result found after the request was answered, where the request came from: Slack's
response_url (replacing the relay's first message), or the webhook source's comment API and the
signed callback. Never raises: the cancel is done, and the people are told what can reach them."""

from __future__ import annotations

from collections.abc import Mapping

from omni_relay.adapters.notify import Notifier
from omni_relay.domain.model import CancelOutcome
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import RelayError
from omni_relay.observability import logger
from omni_relay.presentation.messages import RELAY_MARK, full_text, given_up
from omni_relay.sources.base import SourceConfig, WebhookSource
from omni_relay.sources.registry import webhook_source
from omni_relay.sources.webhook_secret import WebhookConfigs


class LaterResults:
    def __init__(self, notifier: Notifier, configs: WebhookConfigs) -> None:
        self._notifier = notifier
        self._configs = configs

    def tell(self, task: CancelTask, outcome: CancelOutcome, given_up_after: int = 0) -> None:
        """`outcome` to `task`'s requester; `given_up_after` (attempts) when the worker parks the task."""
        if task.source == "slack":
            from omni_relay.presentation.slack_blocks import render, render_given_up

            message = render_given_up(outcome, given_up_after) if given_up_after else render(outcome)
            self._notifier.post(task.reply.url, {**message, "replace_original": True})
            return
        source = webhook_source(task.source)
        if source is None:
            logger.error("cannot tell anyone: the task names no known source", extra={"source": task.source})
            return
        try:
            config: SourceConfig | None = self._configs.config(source.name)
        except RelayError as exc:
            logger.error("cannot comment back: no webhook settings", extra={"reason": exc.message})
            config = None
        text = given_up(task.job_id, given_up_after) if given_up_after else ""
        self.comment(source, task.reply.thread, outcome, config, text)

    def comment(
        self,
        source: WebhookSource,
        thread: Mapping[str, str],
        outcome: CancelOutcome,
        config: SourceConfig | None,
        text: str = "",
    ) -> None:
        """Tell the webhook's people how the cancel ended: a comment where their tool has an API for
        it, and the signed callback when one is configured."""
        text = text or full_text(outcome, source.literal)
        outbound = source.comment(thread, f"{text}\n{RELAY_MARK}", config) if config and thread else None
        if outbound is not None:
            self._notifier.comment(outbound.method, outbound.url, outbound.body, outbound.headers, source.name)
        if self._notifier.callback_url:
            self._notifier.callback(source.name, outcome, text, self._configs.callback_key())
