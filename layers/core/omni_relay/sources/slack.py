"""Slack slash commands and buttons: v0 signature, form parsing, the handlers (replies in slack_blocks.py).

Slack shows anything but HTTP 200 as an error, so every answer to an authentic request is a
200 with an ephemeral message; only unauthentic or unreadable requests get 4xx JSON errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

from omni_relay import bounded_json
from omni_relay.audit import where_asked
from omni_relay.cancelling import CancelPorts, cancel_or_hand_off, look, over_rate_limit
from omni_relay.deadline import Deadline
from omni_relay.dedupe import AlreadyInProgress, Deduplicator
from omni_relay.domain import CancelOutcome, CancelRequest, ReplyTarget, as_mapping
from omni_relay.errors import (
    InvalidSignature,
    MalformedRequest,
    ReplayedRequest,
    SettingsUnavailable,
    StaleRequest,
    UnsupportedMediaType,
)
from omni_relay.grammar import Verb, parse_args
from omni_relay.identity import Requester
from omni_relay.identity import slack as slack_user
from omni_relay.jobref import is_job_id
from omni_relay.observability import count, logger
from omni_relay.request import Handled, InboundRequest, Reply
from omni_relay.signing import MIN_KEY_CHARS, hmac_sha256, matches_any, unix_seconds
from omni_relay.sources.slack_blocks import CANCEL_ACTION, CHECK_ACTION, escape, render, usage

REPLAY_WINDOW_S = 300
FORM = "application/x-www-form-urlencoded"


class SlackPorts(CancelPorts, Protocol):
    """What the Slack handlers need from the outside world (the Runtime, or fakes in tests)."""

    dedupe: Deduplicator
    now: Callable[[], float]

    @property
    def slack_budget_s(self) -> float: ...

    @property
    def omni_host(self) -> str: ...

    def slack_signing_secrets(self) -> list[str]: ...

    def post(self, url: str, message: dict[str, Any]) -> None: ...

    def first_sight(self, slack_signature: str) -> bool:
        """False when any execution environment has already seen this signature (within Slack's window)."""
        ...

    def history(self, requester: Requester, n: int) -> dict[str, Any]:
        """`/omni-cancel history [n]`: the Slack message listing what `requester` may see (audit.history)."""
        ...


def signing_secrets(value: Mapping[str, Any]) -> list[str]:
    """Every accepted signing secret in the Slack secret: {"signing_secrets": [current, previous]}
    (rotation without downtime) or {"signing_secret": s}."""
    listed = value.get("signing_secrets", [])
    single = value.get("signing_secret", "")
    candidates = (listed if isinstance(listed, list) else []) + [single]
    secrets = [s.strip() for s in candidates if isinstance(s, str) and s.strip()]
    if not secrets:
        raise SettingsUnavailable("The relay's Slack secret has no signing secret.")
    if any(len(s) < MIN_KEY_CHARS for s in secrets):  # a placeholder, or guessable: nothing is verified by it
        logger.error("Slack not set up: a signing secret is a placeholder", extra={"min_chars": MIN_KEY_CHARS})
        count("SetupIncomplete", reason="slack_key")
        raise SettingsUnavailable(
            f"A signing secret in the relay's Slack secret is shorter than {MIN_KEY_CHARS} characters."
        )
    return secrets


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


MAX_FORM_FIELDS = 64


def parse_form(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded, as parse_qs reads it (the first value of a repeated field,
    blank values kept), in one pass: the form parser is on every Slack request's path."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("The form body could not be parsed.") from None
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


def handle_command(request: InboundRequest, ports: SlackPorts) -> Handled:
    """Verify, parse and answer one slash command."""
    form = parse_form(request.body) if request.content_type == FORM else None
    if form is not None and form.get("ssl_check") == "1":
        return Handled(Reply(200, {}))  # Slack's certificate probe, answered before verification as Bolt does
    verify(request, ports.slack_signing_secrets(), ports.now())
    if form is None:
        raise UnsupportedMediaType(f"Slash commands must be sent as {FORM}.")
    # Slack never resends a slash command: the same signature twice is a captured request replayed.
    if not ports.first_sight(request.header("x-slack-signature")):
        raise ReplayedRequest("This Slack request was already received.")
    command = SlashCommand.from_form(form)
    text = command.text.strip()
    asked_for = parse_args(text, ports.omni_host)  # the one grammar: [verb] job [rest]
    if asked_for.verb is Verb.HELP or text == "?":
        return Handled(Reply(200, usage(command.command)), command.requester)
    if asked_for.verb is Verb.HISTORY:
        return Handled(Reply(200, ports.history(command.requester, asked_for.history_size)), command.requester)
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


def handle_interaction(request: InboundRequest, ports: SlackPorts) -> Handled:
    """A button click: verify, acknowledge with 200, replace the message it came from with the outcome."""
    verify(request, ports.slack_signing_secrets(), ports.now())
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"Interactions must be sent as {FORM}.")
    form = parse_form(request.body)
    click = ButtonClick.from_form(form)
    if click is None:
        from omni_relay.sources.slack_shortcut import handle_other  # shortcuts, unfurl cards' buttons

        return handle_other(form, request, ports)  # type: ignore[arg-type]  # the Runtime is UnfurlPorts too
    asked = CancelRequest(click.job_id, click.requester, where=where_asked(click.requester))
    if limited := over_rate_limit(ports, asked, action="status" if click.action_id == CHECK_ACTION else "cancel"):
        ports.post(click.response_url, {**render(limited), "replace_original": False})  # the buttons stay
        return Handled(Reply(200, {}), click.requester, limited)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)

    def act() -> dict[str, Any]:
        if click.action_id == CHECK_ACTION:
            outcome = look(ports, asked, deadline, request_id=request.request_id)
        else:
            reply_to = ReplyTarget(url=click.response_url)
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=reply_to, request_id=request.request_id)
        ports.post(click.response_url, {**render(outcome, requester=click.requester), "replace_original": True})
        return outcome.to_record()

    # Slack resends a click it did not see acknowledged: act once per click, whatever else differs.
    key = f"slack-action:{click.requester.principal}:{click.action_ts}:{click.action_id}:{click.job_id}"
    try:
        done = ports.dedupe.once(key, act)
    except AlreadyInProgress:
        return Handled(Reply(200, {}), click.requester)  # a concurrent resend: the first one answers
    return Handled(Reply(200, {}), click.requester, CancelOutcome.from_record(done))
