"""Omni job links unfurled in Slack: the Events API route (link_shared -> chat.unfurl), the card, and
its Cancel and Check again buttons.

An unfurl is read by everyone in the channel, so the card shows no more than any member of it may
see (`channel_view`); its buttons are judged for whoever presses them, by the same use cases as every
other entry point (the cancel service's rules, cancelling.py), and answer that person ephemerally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.domain.deadline import Deadline
from omni_relay.domain.grammar import job_of
from omni_relay.domain.identity import Requester
from omni_relay.domain.identity import slack as slack_user
from omni_relay.domain.jobref import is_job_id
from omni_relay.domain.model import CancelOutcome, CancelRequest, JobState, Outcome, as_mapping
from omni_relay.errors import AlreadyInProgress, MalformedRequest, UnfurlFailed, UnsupportedMediaType
from omni_relay.observability import count, logger
from omni_relay.presentation.messages import describe, facts, omni_link
from omni_relay.presentation.slack_blocks import OPEN_ACTION, button, cancel_button, escape, render
from omni_relay.settings import Settings
from omni_relay.sources import bounded_json
from omni_relay.sources.request import Handled, InboundRequest, Reply
from omni_relay.sources.slack import SlackPorts
from omni_relay.sources.slack_signature import verify
from omni_relay.usecases.audit import where_asked
from omni_relay.usecases.authorized_omni import seen_by
from omni_relay.usecases.cancelling import cancel_or_hand_off, decided, look, over_rate_limit

if TYPE_CHECKING:
    from omni_relay.adapters.slack_api import SlackUnfurlPort

# Buttons whose answer goes to the presser alone and leave the message they are on in place (a card,
# the shortcut's list of jobs); a card is then brought up to date for its channel.
HERE_CANCEL = "omni_cancel_here"
HERE_CHECK = "omni_check_here"
MAX_LINKS = 5  # per message: each is a status read of Omni's 60 a minute
MAX_CHALLENGE_CHARS = 200
# Outcomes a card shows (what the job is doing now); any other answer leaves the card as it was.
SHOWN = frozenset(
    {
        Outcome.STATUS,
        Outcome.CANCELLED,
        Outcome.ALREADY_FINISHED,
        Outcome.ALREADY_CANCELLED,
        Outcome.STOPPING,
        Outcome.NOT_CANCELLABLE,
    }
)


class UnfurlPorts(SlackPorts, Protocol):
    settings: Settings

    @property
    def unfurler(self) -> SlackUnfurlPort:
        """chat.unfurl (slack_api.py), made on the first link to unfurl."""
        ...


def unfurl(ports: UnfurlPorts, target: dict[str, str], unfurls: dict[str, Any], deadline: Deadline) -> bool:
    """chat.unfurl with the bot token; False, logged and counted, when Slack did not take it."""
    try:
        ports.unfurler.unfurl(target, unfurls, ports.slack_secret.unfurl_token(), deadline)
    except UnfurlFailed as exc:
        logger.warning("Slack did not take the unfurl", extra={"reason": exc.reason})
        count("UnfurlFailures", reason="setup" if exc.setup else "slack")
        return False
    return True


class View(IntEnum):
    """How much of a job a card may show to a channel."""

    ID = 0  # the job id and the buttons: pressing Check again shows the presser what they may see
    STATE = 1  # state, age, step
    FULL = 2  # and the prompt, owner, progress text and the link to Omni


def channel_view(settings: Settings, team: str, channel: str) -> View:
    """What any member of `channel` may see of a job: the state when every member of the workspace may
    look at jobs from there (allow-list mode, any user, the team and channel allowed); the prompt only
    where the operator listed the channel itself in SlackAllowedChannels ("*" does not count: a shared
    channel's guests read unfurls too). Owner-or-on-call: only a job's owner and on-call may see it."""
    if settings.who_may_cancel != "allow-list":
        return View.ID
    teams, users, channels = settings.slack_allowed_teams, settings.slack_allowed_users, settings.slack_allowed_channels
    if not (teams.allows(team) and "*" in users.entries and channels.allows(channel)):
        return View.ID
    return View.FULL if channel in channels.entries else View.STATE


def card(job_id: str, outcome: CancelOutcome | None, view: View) -> dict[str, Any]:
    """The unfurl of one job link. Omni's texts go into plain_text elements only."""
    title = f"*Omni AI job* `{escape(job_id)}`"
    if outcome is None or view is View.ID or outcome.kind not in SHOWN:
        note = "Press *Check again* to see its state (only you will see it)."
        if outcome is not None and view is not View.ID:
            note = "Its state could not be read just now. Press *Check again*."
        return {
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": title}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
                {"type": "actions", "elements": [_cancel(job_id), button("Check again", HERE_CHECK, job_id)]},
            ]
        }
    if view is not View.FULL and outcome.job is not None:
        # seen_by with a public reader: no prompt, owner, progress text, link or error.
        outcome = replace(outcome, job=seen_by(Requester("slack", public=True), outcome.job))
    said = escape(describe(outcome)).replace(outcome.job_id, f"`{escape(outcome.job_id)}`", 1)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": said}},
    ]
    if shown := facts(outcome):
        elements = [{"type": "plain_text", "text": f"{fact.label}: {fact.value}", "emoji": False} for fact in shown]
        blocks.append({"type": "context", "elements": elements})
    buttons = []
    running = outcome.state is not None and not outcome.state.terminal
    if running and outcome.state is not JobState.DELIVERING and outcome.kind is not Outcome.STOPPING:
        buttons.append(_cancel(job_id))
    if running:
        buttons.append(button("Check again", HERE_CHECK, job_id))
    if link := omni_link(outcome):
        buttons.append({**button("Open in Omni", OPEN_ACTION, job_id), "url": link})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"blocks": blocks}


def _cancel(job_id: str) -> dict[str, Any]:
    return {**cancel_button(job_id), "action_id": HERE_CANCEL}


# The Events API -------------------------------------------------------------------------------

_unfurls_off_said = False


def handle_event(request: InboundRequest, ports: UnfurlPorts) -> Handled:
    """One Events API delivery: verified, url_verification answered, link_shared unfurled once per
    event_id (Slack resends an event it did not see acknowledged within 3 s, with X-Slack-Retry-Num)."""
    body = _verified_json(request, ports)
    if body.get("type") == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= MAX_CHALLENGE_CHARS:
            raise MalformedRequest("The url_verification has no challenge.")
        return Handled(Reply(200, {"challenge": challenge}))
    event = as_mapping(body.get("event"))
    if body.get("type") != "event_callback" or event.get("type") != "link_shared":
        return Handled(Reply(200, {}))  # nothing else is subscribed; acknowledged so Slack does not resend
    team, event_id = str(body.get("team_id") or ""), str(body.get("event_id") or "")
    user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
    if not team or not event_id or not user:
        raise MalformedRequest("The link_shared event has no team, event id or user.")
    poster = slack_user(team, user, channel)
    links = _job_links(event.get("links"), ports.omni_host)
    if not links:
        return Handled(Reply(200, {}), poster)
    if not ports.slack_secret.unfurl_token():
        _say_unfurls_off()
        return Handled(Reply(200, {}), poster)
    if retry := request.header("x-slack-retry-num"):
        why = request.header("x-slack-retry-reason")[:40]
        logger.info("Slack resent an event", extra={"retry": retry[:4], "why": why, "event_id": event_id[:40]})
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)

    def act() -> dict[str, Any]:
        return unfurl_links(ports, poster, links, _target(event, channel), deadline)

    with contextlib.suppress(AlreadyInProgress):  # the first delivery of this event is being answered
        ports.dedupe.once(f"slack-event:{team}:{event_id}", act)
    return Handled(Reply(200, {}), poster)


def _verified_json(request: InboundRequest, ports: UnfurlPorts) -> Mapping[str, Any]:
    verify(request, ports.slack_secret.signing_secrets(), ports.now())
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Slack events must be sent as application/json.")
    try:
        body = bounded_json.loads(request.body)  # deeper than MAX_JSON_DEPTH: MalformedRequest
    except ValueError:
        raise MalformedRequest("The event is not JSON.") from None
    if not isinstance(body, dict):
        raise MalformedRequest("The event is not a JSON object.")
    return body


def unfurl_links(
    ports: UnfurlPorts, poster: Requester, links: list[tuple[str, str]], target: dict[str, str], deadline: Deadline
) -> dict[str, Any]:
    """A card per link, read with the poster's rights and shown in the channel's view."""
    view = channel_view(ports.settings, poster.workspace, poster.scope)
    where = where_asked(poster)
    read = (
        view is not View.ID
        and over_rate_limit(ports, CancelRequest(links[0][1], poster, where=where), action="status") is None
    )
    unfurls = {}
    for url, job in links:
        outcome = None
        if read:  # a status shown in the channel: recorded (audit.py), without who stopped it (the card's view decides)
            outcome = ports.authorized.status(CancelRequest(job, poster, where=where), deadline)
            decided(ports, CancelRequest(job, poster, where=where), outcome, action="status", by="relay")
        unfurls[url] = card(job, outcome, view)
    done = bool(target) and unfurl(ports, target, unfurls, deadline)
    count("Unfurls", result="ok" if done else "failed")
    return {"links": len(unfurls), "unfurled": done}


def _job_links(links: object, omni_host: str) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for link in links if isinstance(links, list) else []:
        url = as_mapping(link).get("url")
        if isinstance(url, str) and len(url) <= 2000 and (job := job_of(url, omni_host)):
            found.setdefault(url, job)
    return list(found.items())[:MAX_LINKS]


def _target(event: Mapping[str, Any], channel: str) -> dict[str, str]:
    """Where chat.unfurl attaches the cards: the posted message (channel and ts, which a card's buttons
    name too), or a link still in the composer (unfurl_id and source)."""
    unfurl_id, source, ts = event.get("unfurl_id"), event.get("source"), event.get("message_ts")
    if source != "composer" and isinstance(ts, str) and ts and channel:
        return {"channel": channel, "ts": ts}
    if isinstance(unfurl_id, str) and unfurl_id and isinstance(source, str) and source:
        return {"unfurl_id": unfurl_id, "source": source}
    return {}


def _say_unfurls_off() -> None:
    global _unfurls_off_said
    if not _unfurls_off_said:
        _unfurls_off_said = True
        logger.warning("Omni job links are not unfurled: the Slack secret has no bot_token (links:write)")
    count("SetupIncomplete", reason="no_bot_token")


# The card's buttons --------------------------------------------------------------------------


def handle_action(payload: Mapping[str, Any], request: InboundRequest, ports: UnfurlPorts) -> Handled:
    """Cancel or Check again on a card or a row of the shortcut's list: the outcome to the presser
    (ephemeral, a message of its own), and a card brought up to date for the channel, in its view."""
    action = next(
        (
            a
            for a in payload.get("actions") or []
            if isinstance(a, dict) and a.get("action_id") in (HERE_CANCEL, HERE_CHECK)
        ),
        None,
    )
    if action is None:
        return Handled(Reply(200, {}))
    job_id = str(action.get("value", "")).strip().lower()
    presser = requester_of(payload)
    response_url = str(payload.get("response_url") or "")
    if not is_job_id(job_id) or presser is None:
        raise MalformedRequest("The button has no job id, no user or no workspace.")
    asked = CancelRequest(job_id, presser, where=where_asked(presser))
    if limited := over_rate_limit(ports, asked, action="status" if action["action_id"] == HERE_CHECK else "cancel"):
        ports.notifier.post(response_url, {**render(limited), "replace_original": False})
        return Handled(Reply(200, {}), presser, limited)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)
    container = as_mapping(payload.get("container"))

    def act() -> dict[str, Any]:
        if action["action_id"] == HERE_CHECK:
            outcome = look(ports, asked, deadline, request_id=request.request_id)
        else:
            # No post-back target: the worker's later message would replace the message the button is on.
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=None, request_id=request.request_id)
        ports.notifier.post(response_url, {**render(outcome, requester=presser), "replace_original": False})
        url, channel, ts = (str(container.get(k) or "") for k in ("app_unfurl_url", "channel_id", "message_ts"))
        view = channel_view(ports.settings, presser.workspace, channel)
        if outcome.kind in SHOWN and view is not View.ID and url and channel and ts:
            unfurl(ports, {"channel": channel, "ts": ts}, {url: card(job_id, outcome, view)}, deadline)
        return outcome.to_record()

    key = f"slack-unfurl-action:{presser.principal}:{action.get('action_ts', '')}:{action['action_id']}:{job_id}"
    try:
        done = ports.dedupe.once(key, act)
    except AlreadyInProgress:
        return Handled(Reply(200, {}), presser)
    return Handled(Reply(200, {}), presser, CancelOutcome.from_record(done))


def requester_of(payload: Mapping[str, Any]) -> Requester | None:
    """Who pressed or invoked, as Slack signs it: the user's own workspace (user.team_id; a guest from
    another workspace in a shared channel is judged by theirs), else the payload's team."""
    user, team, channel = (as_mapping(payload.get(k)) for k in ("user", "team", "channel"))
    workspace = str(user.get("team_id") or team.get("id") or "")
    if not user.get("id") or not workspace:
        return None
    return slack_user(workspace, str(user["id"]), str(channel.get("id", "")))
