"""What Slack users read: Block Kit messages for an outcome (the relay's reply, and the worker's
post-back that replaces it), the usage text, and the buttons. Text from Omni or a sender is escaped."""

from __future__ import annotations

from typing import Any

from omni_relay.domain import CancelOutcome, Outcome, Requester
from omni_relay.messages import SETTLED, describe, given_up

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


def escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(
    outcome: CancelOutcome, *, response_type: str = "ephemeral", requester: Requester | None = None
) -> dict[str, Any]:
    icon = _ICON.get(outcome.outcome, ":white_check_mark:" if outcome.outcome in SETTLED else ":warning:")
    text = describe(outcome).replace(outcome.job_id, f"`{escape(outcome.job_id)}`", 1)
    if outcome.outcome is Outcome.SENDER_NOT_ALLOWED and requester is not None:
        # What the admin needs to add this person: their own ids, which Slack does not show them.
        text += (
            f" Give them your Slack team id `{escape(requester.workspace)}` and user id `{escape(requester.user_id)}`."
        )
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
