"""What Slack posts: its form encoding, a slash command, and a click on one of the relay's message buttons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from omni_relay.domain.identity import Requester
from omni_relay.domain.identity import slack as slack_user
from omni_relay.domain.jobref import is_job_id
from omni_relay.domain.model import as_mapping
from omni_relay.errors import MalformedRequest
from omni_relay.presentation.slack_blocks import CANCEL_ACTION, CHECK_ACTION
from omni_relay.sources import bounded_json

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 64


def parse_form(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded, as parse_qs reads it (the first value of a repeated field,
    blank values kept), in one pass: the form parser is on every Slack request's path.

    A JSON body is never a form. Slack signs the body, not the route or the Content-Type, so an
    Events API delivery sent here as a form would otherwise turn the `&field=value` pairs inside
    its strings (a link someone posted) into a command's or a click's fields. Slack's forms
    percent-encode `{`, `}` and `"`: a body holding one raw is JSON-shaped, whatever precedes it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("The form body could not be parsed.") from None
    if any(c in text for c in '{}"'):
        raise MalformedRequest("The body is JSON, not a form: it is not a request for this route.")
    pairs = text.split("&") if text else []
    if len(pairs) > MAX_FORM_FIELDS:
        raise MalformedRequest("The form body could not be parsed.")
    fields: dict[str, str] = {}
    for pair in pairs:
        if not pair:
            continue
        key, _, value = pair.partition("=")
        fields.setdefault(_unquoted(key), _unquoted(value))
    return fields


def _unquoted(text: str) -> str:
    # Most of a Slack form's fields (ids, flags) hold nothing to decode.
    return unquote_plus(text) if "%" in text or "+" in text else text


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
        requester = slack_user(form["team_id"], form["user_id"], form.get("channel_id", ""))
        return cls(form.get("command") or "/omni-cancel", form.get("text", ""), requester, form.get("response_url", ""))


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
            payload = bounded_json.loads(form.get("payload", ""))  # deeper than MAX_JSON_DEPTH: MalformedRequest
        except ValueError:
            raise MalformedRequest("The interaction payload is not JSON.") from None
        if not isinstance(payload, dict) or payload.get("type") != "block_actions":
            return None
        user, team, channel = (as_mapping(payload.get(k)) for k in ("user", "team", "channel"))
        actions = payload.get("actions")
        for action in actions if isinstance(actions, list) else []:
            if isinstance(action, dict) and action.get("action_id") in (CANCEL_ACTION, CHECK_ACTION):
                job_id = str(action.get("value", "")).strip().lower()
                # The clicker's own workspace (a Slack Connect guest's is not the channel's).
                workspace = str(user.get("team_id") or team.get("id") or "")
                if not is_job_id(job_id) or not user.get("id") or not workspace:
                    raise MalformedRequest("The button has no job id, no user or no workspace.")
                requester = slack_user(workspace, str(user["id"]), str(channel.get("id", "")))
                return cls(
                    str(action["action_id"]),
                    job_id,
                    requester,
                    str(payload.get("response_url", "")),
                    str(action.get("action_ts", "")),
                )
        return None
