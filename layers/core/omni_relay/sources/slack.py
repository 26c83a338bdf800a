"""Slack slash commands and buttons on the relay's messages: the two handlers (signature in
slack_signature.py, what Slack posts in slack_form.py, the replies in slack_blocks.py).

Slack shows anything but HTTP 200 as an error, so every answer to an authentic request is a
200 with an ephemeral message; only unauthentic or unreadable requests get 4xx JSON errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from omni_relay.adapters.dedupe import Deduplicator
from omni_relay.adapters.notify import Notifier
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.grammar import Verb, parse_args
from omni_relay.domain.model import CancelOutcome, CancelRequest, ReplyTarget
from omni_relay.errors import AlreadyInProgress, ReplayedRequest, UnsupportedMediaType
from omni_relay.presentation.slack_blocks import CHECK_ACTION, escape, render, usage
from omni_relay.sources.request import Handled, InboundRequest, Reply
from omni_relay.sources.slack_form import FORM, ButtonClick, SlashCommand, parse_form
from omni_relay.sources.slack_secret import SlackSecret
from omni_relay.sources.slack_signature import first_sight, verify
from omni_relay.usecases.audit import where_asked
from omni_relay.usecases.cancelling import CancelPorts, cancel_or_hand_off, look, over_rate_limit
from omni_relay.usecases.history import HistoryPorts, slack_history


class SlackPorts(CancelPorts, HistoryPorts, Protocol):
    """What the Slack handlers need (the Runtime, or fakes in tests)."""

    dedupe: Deduplicator
    now: Callable[[], float]
    notifier: Notifier  # post-backs to response_url
    slack_secret: SlackSecret
    omni_host: str
    slack_budget_s: float  # time for Omni within Slack's 3 s (the hand-off's share kept back)


def handle_command(request: InboundRequest, ports: SlackPorts) -> Handled:
    """Verify, parse and answer one slash command."""
    form = parse_form(request.body) if request.content_type == FORM else None
    if form is not None and form.get("ssl_check") == "1":
        return Handled(Reply(200, {}))  # Slack's certificate probe, answered before verification as Bolt does
    verify(request, ports.slack_secret.signing_secrets(), ports.now())
    if form is None:
        raise UnsupportedMediaType(f"Slash commands must be sent as {FORM}.")
    # Slack never resends a slash command: the same signature twice is a captured request replayed.
    if not first_sight(ports.dedupe, request.header("x-slack-signature")):
        raise ReplayedRequest("This Slack request was already received.")
    command = SlashCommand.from_form(form)
    text = command.text.strip()
    asked_for = parse_args(text, ports.omni_host)  # the one grammar: [verb] job [rest]
    if asked_for.verb is Verb.HELP or text == "?":
        return Handled(Reply(200, usage(command.command)), command.requester)
    if asked_for.verb is Verb.HISTORY:
        return Handled(Reply(200, slack_history(ports, command.requester, asked_for.history_size)), command.requester)
    if not asked_for.job_id:
        note = f"I could not find a job id in `{escape(text[:100])}`."
        return Handled(Reply(200, usage(command.command, note)), command.requester)
    read_only = asked_for.read_only  # `/omni-cancel status <job>`: look, do not cancel (the grammar says)
    asked = CancelRequest(asked_for.job_id, command.requester, asked_for.reason, where_asked(command.requester))
    outcome = over_rate_limit(ports, asked, action="status" if read_only else "cancel")
    if outcome is None:
        deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)
        reply_to = ReplyTarget(url=command.response_url) if command.response_url else None
        if read_only:
            outcome = look(ports, asked, deadline, request_id=request.request_id)
        else:
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=reply_to, request_id=request.request_id)
    return Handled(Reply(200, render(outcome, requester=command.requester)), command.requester, outcome)


def handle_interaction(request: InboundRequest, ports: SlackPorts) -> Handled:
    """A button click: verify, acknowledge with 200, replace the message it came from with the outcome."""
    verify(request, ports.slack_secret.signing_secrets(), ports.now())
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"Interactions must be sent as {FORM}.")
    form = parse_form(request.body)
    click = ButtonClick.from_form(form)
    if click is None:
        from omni_relay.sources.slack_shortcut import handle_other  # shortcuts, unfurl cards' buttons

        return handle_other(form, request, ports)  # type: ignore[arg-type]  # the Runtime is UnfurlPorts too
    asked = CancelRequest(click.job_id, click.requester, where=where_asked(click.requester))
    if limited := over_rate_limit(ports, asked, action="status" if click.action_id == CHECK_ACTION else "cancel"):
        ports.notifier.post(click.response_url, {**render(limited), "replace_original": False})  # the buttons stay
        return Handled(Reply(200, {}), click.requester, limited)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)

    def act() -> dict[str, Any]:
        if click.action_id == CHECK_ACTION:
            outcome = look(ports, asked, deadline, request_id=request.request_id)
        else:
            reply_to = ReplyTarget(url=click.response_url)
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=reply_to, request_id=request.request_id)
        ports.notifier.post(
            click.response_url, {**render(outcome, requester=click.requester), "replace_original": True}
        )
        return outcome.to_record()

    # Slack resends a click it did not see acknowledged: act once per click, whatever else differs.
    key = f"slack-action:{click.requester.principal}:{click.action_ts}:{click.action_id}:{click.job_id}"
    try:
        done = ports.dedupe.once(key, act)
    except AlreadyInProgress:
        return Handled(Reply(200, {}), click.requester)  # a concurrent resend: the first one answers
    return Handled(Reply(200, {}), click.requester, CancelOutcome.from_record(done))
