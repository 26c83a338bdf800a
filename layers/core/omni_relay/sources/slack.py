"""Slack slash commands: v0 signature, form parsing, Block Kit replies.

Slack shows anything but HTTP 200 as an error, so every answer to an authentic request is a
200 with an ephemeral message; only unauthentic or unreadable requests get 4xx JSON errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from omni_relay.deadline import Deadline
from omni_relay.dedupe import AlreadyInProgress, Deduplicator
from omni_relay.domain import RETRY_LATER, CancelOutcome, CancelRequest, JobState, Outcome, Requester
from omni_relay.errors import InvalidSignature, MalformedRequest, StaleRequest, UnsupportedMediaType
from omni_relay.handoff import CancelTask
from omni_relay.jobref import find_job_id
from omni_relay.messages import SETTLED, describe, given_up
from omni_relay.request import InboundRequest, Reply
from omni_relay.service import CancelService
from omni_relay.signing import hmac_sha256, matches_any, unix_seconds

REPLAY_WINDOW_S = 300
FORM = "application/x-www-form-urlencoded"
EXAMPLE_JOB = "123e4567-e89b-12d3-a456-426614174000"
# Button action ids. Any app's message can offer CANCEL_ACTION with a job id as its value.
CANCEL_ACTION = "omni_cancel_job"
CHECK_ACTION = "omni_check_job"

_ICON = {
    Outcome.CANCELLED: ":white_check_mark:",
    Outcome.ALREADY_FINISHED: ":information_source:",
    Outcome.STOPPING: ":hourglass_flowing_sand:",
    Outcome.PENDING: ":hourglass_flowing_sand:",
    Outcome.STATUS: ":information_source:",
    Outcome.OMNI_BUSY: ":vertical_traffic_light:",
    Outcome.OMNI_UNAVAILABLE: ":cloud:",
}


class SlackPorts(Protocol):
    """What the Slack handlers need from the outside world (the Runtime, or fakes in tests)."""

    service: CancelService
    dedupe: Deduplicator
    now: Callable[[], float]

    @property
    def slack_budget_s(self) -> float: ...

    def slack_signing_secrets(self) -> list[str]: ...

    def sender_wait_s(self, requester: Requester) -> float: ...

    def hand_off(self, task: CancelTask) -> bool: ...

    def post(self, url: str, message: dict[str, Any]) -> None: ...


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


def parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise MalformedRequest("The form body could not be parsed.") from None
    return {key: values[0] for key, values in fields.items()}


@dataclass(frozen=True)
class SlashCommand:
    command: str
    text: str
    requester: Requester
    response_url: str

    @classmethod
    def from_form(cls, form: dict[str, str]) -> SlashCommand:
        if not form.get("team_id") or not form.get("user_id"):
            raise MalformedRequest("The slash command is missing team_id or user_id.")
        requester = Requester(
            source="slack",
            team_id=form["team_id"],
            user_id=form["user_id"],
            channel_id=form.get("channel_id", ""),
            display_name=form.get("user_name", ""),
        )
        return cls(form.get("command") or "/omni-cancel", form.get("text", ""), requester, form.get("response_url", ""))


def handle_command(
    request: InboundRequest, ports: SlackPorts
) -> tuple[Reply, SlashCommand | None, CancelOutcome | None]:
    """Verify, parse and answer one slash command. Returns the reply and, for logs and metrics,
    what was asked and how it ended."""
    form = parse_form(request.body) if request.content_type == FORM else None
    if form is not None and form.get("ssl_check") == "1":
        return Reply(200, {}), None, None  # Slack's certificate probe, answered before verification as Bolt does
    verify(request, ports.slack_signing_secrets(), ports.now())
    if form is None:
        raise UnsupportedMediaType(f"Slash commands must be sent as {FORM}.")
    command = SlashCommand.from_form(form)
    text = command.text.strip()
    if not text or text.lower() in ("help", "-h", "--help", "?"):
        return Reply(200, usage(command.command)), command, None
    job_id = find_job_id(text)
    if job_id is None:
        note = f"I could not find a job id in `{escape(text[:100])}`."
        return Reply(200, usage(command.command, note)), command, None
    if wait := ports.sender_wait_s(command.requester):
        outcome = CancelOutcome(job_id, Outcome.RATE_LIMITED, detail=f"may retry in {wait:.0f}s")
        return Reply(200, render(outcome)), command, outcome
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)
    outcome = ports.service.cancel(CancelRequest(job_id, command.requester), deadline)
    if outcome.outcome in RETRY_LATER:
        task = CancelTask(job_id, command.requester, reply_to=command.response_url, request_id=request.request_id)
        if ports.hand_off(task):
            outcome = CancelOutcome(job_id, Outcome.PENDING, detail=f"handed off after: {outcome.detail}")
    return Reply(200, render(outcome)), command, outcome


@dataclass(frozen=True)
class ButtonClick:
    action_id: str
    job_id: str
    requester: Requester
    response_url: str
    action_ts: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> ButtonClick | None:
        """The first of our buttons in a block_actions payload; None for anything else Slack sends."""
        try:
            payload = json.loads(form.get("payload", ""))
        except ValueError:
            raise MalformedRequest("The interaction payload is not JSON.") from None
        if not isinstance(payload, dict) or payload.get("type") != "block_actions":
            return None
        user, team, channel = (_object(payload.get(k)) for k in ("user", "team", "channel"))
        actions = payload.get("actions")
        for action in actions if isinstance(actions, list) else []:
            if isinstance(action, dict) and action.get("action_id") in (CANCEL_ACTION, CHECK_ACTION):
                job_id = find_job_id(str(action.get("value", "")))
                if not job_id or not user.get("id"):
                    raise MalformedRequest("The button has no job id or no user.")
                requester = Requester(
                    source="slack",
                    team_id=str(team.get("id") or user.get("team_id") or ""),
                    user_id=str(user["id"]),
                    channel_id=str(channel.get("id", "")),
                    display_name=str(user.get("username", "")),
                )
                return cls(
                    str(action["action_id"]),
                    job_id,
                    requester,
                    str(payload.get("response_url", "")),
                    str(action.get("action_ts", "")),
                )
        return None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def handle_interaction(
    request: InboundRequest, ports: SlackPorts
) -> tuple[Reply, ButtonClick | None, CancelOutcome | None]:
    """A button click: verify, acknowledge with 200, replace the message it came from with the outcome."""
    verify(request, ports.slack_signing_secrets(), ports.now())
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"Interactions must be sent as {FORM}.")
    click = ButtonClick.from_form(parse_form(request.body))
    if click is None:
        return Reply(200, {}), None, None
    if wait := ports.sender_wait_s(click.requester):
        limited = CancelOutcome(click.job_id, Outcome.RATE_LIMITED, detail=f"may retry in {wait:.0f}s")
        ports.post(click.response_url, {**render(limited), "replace_original": False})  # the buttons stay
        return Reply(200, {}), click, limited
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)
    service = ports.service

    def act() -> dict[str, Any]:
        asked = CancelRequest(click.job_id, click.requester)
        if click.action_id == CHECK_ACTION:
            outcome = service.status(asked, deadline)
        else:
            outcome = service.cancel(asked, deadline)
            if outcome.outcome in RETRY_LATER:
                task = CancelTask(click.job_id, click.requester, click.response_url, request_id=request.request_id)
                if ports.hand_off(task):
                    outcome = CancelOutcome(click.job_id, Outcome.PENDING, detail=outcome.detail)
        ports.post(click.response_url, {**render(outcome), "replace_original": True})
        return {**outcome.as_dict(), "detail": outcome.detail}

    key = f"slack-action:{click.requester.key}:{click.action_ts}:{click.action_id}:{click.job_id}"
    try:
        done = ports.dedupe.once(key, act)
    except AlreadyInProgress:
        return Reply(200, {}), click, None  # a concurrent resend: the first one answers
    outcome = CancelOutcome(click.job_id, Outcome(done["outcome"]), JobState.parse(done.get("state")), done["detail"])
    return Reply(200, {}), click, outcome


def escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(outcome: CancelOutcome, *, response_type: str = "ephemeral") -> dict[str, Any]:
    icon = _ICON.get(outcome.outcome, ":white_check_mark:" if outcome.outcome in SETTLED else ":warning:")
    text = describe(outcome).replace(outcome.job_id, f"`{escape(outcome.job_id)}`", 1)
    context = f"Job `{escape(outcome.job_id)}`"
    if outcome.state:
        context += f" · state *{outcome.state.value}*"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {text}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    if outcome.outcome is Outcome.STOPPING or (
        outcome.outcome is Outcome.STATUS and outcome.state is not None and not outcome.state.terminal
    ):
        blocks.append({"type": "actions", "elements": [button("Check again", CHECK_ACTION, outcome.job_id)]})
    return {"response_type": response_type, "text": describe(outcome), "blocks": blocks}


def button(label: str, action_id: str, job_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": job_id,
    }


def render_given_up(outcome: CancelOutcome, attempts: int) -> dict[str, Any]:
    """What the requester reads when the worker's last attempt failed too (the task is parked for redrive)."""
    text = ":warning: " + given_up(outcome.job_id, attempts).replace(outcome.job_id, f"`{escape(outcome.job_id)}`", 1)
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def usage(command: str, note: str = "") -> dict[str, Any]:
    command = escape(command or "/omni-cancel")
    lines = [
        f"*{command}* cancels a running Omni AI job.",
        f"• `{command} {EXAMPLE_JOB}` — by job id",
        f"• `{command} https://acme.omniapp.co/api/v1/ai/jobs/{EXAMPLE_JOB}` — or any Omni URL holding the id",
        f"• `{command} help` — this message",
    ]
    text = "\n".join(([note] if note else []) + lines)
    return {
        "response_type": "ephemeral",
        "text": (note + " " if note else "") + f"Usage: {command} <job id or Omni job URL>",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
