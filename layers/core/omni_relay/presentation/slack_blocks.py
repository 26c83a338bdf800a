"""What Slack users read: Block Kit messages for an outcome (the relay's reply, and the worker's
post-back that replaces it), the usage text, and the buttons. Text from Omni or a sender is escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from omni_relay.domain.identity import Requester
from omni_relay.domain.model import CancelOutcome, JobDetails, JobState, Outcome
from omni_relay.presentation.messages import (
    PROMPT_CHARS,
    SETTLED,
    cancelled_by,
    describe,
    duration,
    facts,
    given_up,
    omni_link,
)

_MENTIONABLE = re.compile(r"(?<![\w<])([@#])([UWCGD][A-Z0-9]{1,20})\b")

EXAMPLE_JOB = "123e4567-e89b-12d3-a456-426614174000"
# Button action ids. Any app's message can offer CANCEL_ACTION with a job id as its value.
CANCEL_ACTION = "omni_cancel_job"
CHECK_ACTION = "omni_check_job"
OPEN_ACTION = "omni_open_job"  # a link button: Slack also reports its click, which the relay ignores

_ICON = {
    Outcome.CANCELLED: ":white_check_mark:",
    Outcome.ALREADY_FINISHED: ":information_source:",
    Outcome.STOPPING: ":hourglass_flowing_sand:",
    Outcome.PENDING: ":hourglass_flowing_sand:",
    Outcome.STATUS: ":information_source:",
    Outcome.ALREADY_CANCELLED: ":information_source:",
    Outcome.STOPPED: ":white_check_mark:",
    Outcome.FINISHED_FIRST: ":information_source:",
    Outcome.STILL_RUNNING: ":hourglass_flowing_sand:",
    Outcome.OMNI_BUSY: ":vertical_traffic_light:",
    Outcome.OMNI_UNAVAILABLE: ":cloud:",
}


def escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(
    outcome: CancelOutcome, *, response_type: str = "ephemeral", requester: Requester | None = None
) -> dict[str, Any]:
    icon = _ICON.get(outcome.kind, ":white_check_mark:" if outcome.kind in SETTLED else ":warning:")
    said = escape(describe(outcome))
    text = mentions(said.replace(outcome.job_id, f"`{escape(outcome.job_id)}`", 1), outcome.job)
    if outcome.kind in (Outcome.SENDER_NOT_ALLOWED, Outcome.NOT_CONFIGURED) and requester is not None:
        # What the admin needs to add this person (or, on a first deploy, their team): their own ids,
        # which Slack does not show them.
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
    if shown := facts(outcome):
        # plain_text: Slack renders no mention, link or formatting from the prompt or Omni's progress text.
        elements = [{"type": "plain_text", "text": f"{fact.label}: {fact.value}", "emoji": False} for fact in shown]
        blocks.append({"type": "context", "elements": elements})
    buttons = []
    running = outcome.state is not None and not outcome.state.terminal
    if outcome.kind is Outcome.STATUS and running and outcome.state is not JobState.DELIVERING:
        buttons.append(cancel_button(outcome.job_id))
    if outcome.kind in (Outcome.STOPPING, Outcome.STILL_RUNNING) or (outcome.kind is Outcome.STATUS and running):
        buttons.append(button("Check again", CHECK_ACTION, outcome.job_id))
    if link := omni_link(outcome):
        buttons.append({**button("Open in Omni", OPEN_ACTION, outcome.job_id), "url": link})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"response_type": response_type, "text": said, "blocks": blocks}


def mentions(text: str, details: JobDetails | None) -> str:
    """Who cancelled a job and where, as Slack mentions (<@U…>, <#C…>: Slack shows the name), only for
    the ids the audit record gave (they are of Slack's id form; nothing else in `text` is touched)."""
    if details is None or not details.stopped_by:
        return text
    ours = {f"@{details.stopped_by.rsplit(':', 1)[-1]}", details.stopped_from}
    return _MENTIONABLE.sub(lambda m: f"<{m.group(0)}>" if m.group(0) in ours else m.group(0), text)


def render_history(entries: Sequence[Any], now: float, asked: int) -> dict[str, Any]:
    """`/omni-cancel history [n]`: the decisions this person may see, newest first, each with its job link."""
    if not entries:
        text = "No cancels or status checks you may see are on record yet."
        return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}
    many = f"last {len(entries)} decisions" if len(entries) > 1 else "last decision"
    lines = [f"*The {many} you may see* (newest first; you asked for {asked}):"]
    for entry in entries:
        record = entry.record
        stop = _as_stop(record)
        who_line = mentions(escape(cancelled_by(stop)), stop).removeprefix(" by ")
        action, job = escape(str(record.get("action", ""))), escape(str(record.get("job_id", "")))
        said = f"• {duration(now - entry.epoch)} ago · *{action}* `{job}`"
        said += f" → {escape(str(record.get('decision', '')).replace('_', ' '))}"
        said += f" · {who_line}" if who_line else ""
        link = str(record.get("link") or "")
        if link.startswith(("https://", "http://")) and "|" not in link and ">" not in link:
            said += f" · <{escape(link)}|open>"
        if reason := str(record.get("reason") or ""):
            said += f"\n      _{escape(reason[:PROMPT_CHARS])}_"
        lines.append(said)
    text = "\n".join(lines)
    return {"response_type": "ephemeral", "text": lines[0].replace("*", ""), "blocks": [_section(text)]}


def _as_stop(record: Any) -> JobDetails:
    requester = record.get("requester") or {}
    return JobDetails(stopped_by=str(requester.get("principal") or "?"), stopped_from=str(record.get("where") or ""))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def render_owner_notice(job_id: str, details: JobDetails, at: float, now: float) -> dict[str, Any]:
    """The DM a job's owner reads when someone else cancelled it: which job, who, from where, when and why."""
    by = mentions(escape(cancelled_by(details)), details)
    text = f":octagonal_sign: Your Omni AI job `{job_id}` was cancelled{by} {duration(now - at)} ago."
    blocks: list[dict[str, Any]] = [_section(text)]
    shown = []
    if details.prompt:
        prompt = " ".join(details.prompt.split())
        shown.append(f"Prompt: {prompt[:PROMPT_CHARS]}" + ("…" if len(prompt) > PROMPT_CHARS else ""))
    if details.stopped_because:
        shown.append(f"Reason: {details.stopped_because}")
    if shown:  # plain_text: what someone typed renders no mention, link or formatting
        blocks.append(
            {"type": "context", "elements": [{"type": "plain_text", "text": t, "emoji": False} for t in shown]}
        )
    link = omni_link(CancelOutcome(job_id, Outcome.CANCELLED, job=details))
    if link:
        blocks.append({"type": "actions", "elements": [{**button("Open in Omni", OPEN_ACTION, job_id), "url": link}]})
    plain = f"Your Omni AI job {job_id} was cancelled{cancelled_by(details)} {duration(now - at)} ago."
    return {"text": plain, "blocks": blocks}


def cancel_button(job_id: str) -> dict[str, Any]:
    """Cancel from a status message, after Slack's confirmation dialog."""
    return {
        **button("Cancel job", CANCEL_ACTION, job_id),
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": "Cancel this Omni job?"},
            "text": {"type": "plain_text", "text": f"Omni stops job {job_id} and discards its work so far."},
            "confirm": {"type": "plain_text", "text": "Cancel job"},
            "deny": {"type": "plain_text", "text": "Keep it running"},
            "style": "danger",
        },
    }


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
        f"• `{command} {EXAMPLE_JOB} because it scans 4 TB` — with a reason (its owner is told)",
        f"• `{command} status {EXAMPLE_JOB}` — look at a job without cancelling it",
        f"• `{command} https://<your Omni>/api/v1/ai/jobs/{EXAMPLE_JOB}` — a job URL on your Omni works too",
        f"• `{command} history [n]` — the last n cancels and checks you may see",
        f"• `{command} help` — this message",
    ]
    text = "\n".join(([note] if note else []) + lines)
    return {
        "response_type": "ephemeral",
        "text": (note + " " if note else "") + f"Usage: {command} <job id or Omni job URL>",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
