"""Cancel from where the job already is in Slack: the "Cancel Omni job" message shortcut, and Omni job
links unfurled into a card with Cancel and Check again. Through the relay's Lambda handler, with fakes
of Omni, the secret store, chat.unfurl and the response_url post-back."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

import relay_app
from local.cloud.gateway import LambdaContext, http_api_event
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.sources import slack_unfurl
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, FakeUnfurler, MemoryDedupe, RecordingHttp
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, make_settings
from tests.unit.test_hostile_prompts import HOSTILE, MARKUP, SHOWN
from tools.signers.slack import (
    events_api,
    link_shared,
    message_shortcut,
    sign,
    signed_payload,
    slash_command,
    unfurl_click,
)

HOST = "acme.omniapp.co"
RUNNING = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
DONE = "123e4567-e89b-12d3-a456-426614174000"
TEAM, ALICE, OUTSIDER, CHANNEL = "T0LOCAL01", "U0ALICE01", "U0OUTSID1", "C0LOCAL01"
RESPONSE_URL = "https://hooks.slack.com/app/T0LOCAL01/1/shortcut"
PROMPT = "Join every order to every session since 2019"
LINK = f"https://{HOST}/api/v1/ai/jobs/{RUNNING}"
BOT = "xoxb-unit-bot"


class Jobs:
    """Omni's answers: RUNNING executes until cancelled, DONE has completed."""

    def __init__(self, prompt: str = PROMPT) -> None:
        self.prompt = prompt
        self.cancelled: set[str] = set()

    def __call__(self, op: str, job: str, token: str) -> OmniReply:
        if op == "cancel":
            self.cancelled.add(job)
            return OmniReply(200, {"jobId": job, "state": "CANCELLED"})
        state = "CANCELLED" if job in self.cancelled else "EXECUTING" if job == RUNNING else "COMPLETE"
        body = {
            "id": job,
            "state": state,
            "prompt": self.prompt,
            "createdAt": "2026-11-17T08:53:20Z",
            "progress": {"iteration": 3, "message": "Scanning sessions"},
            "omniChatUrl": f"https://{HOST}/chat/c-1",
        }
        return OmniReply(200, body)


class Setup:
    def __init__(self, bot_token: str = BOT, prompt: str = PROMPT, **env: str) -> None:
        self.jobs = Jobs(prompt)
        self.omni = FakeOmni(self.jobs)
        self.http = RecordingHttp()
        self.unfurler = FakeUnfurler()
        self.dedupe = MemoryDedupe()
        slack = {"signing_secrets": [SIGNING_SECRET], **({"bot_token": bot_token} if bot_token else {})}
        secrets = FakeSecretStore({"slack": slack, "omni": {"api_key": OMNI_KEY}})
        self.runtime = Runtime(
            make_settings(**env),
            secrets,
            self.omni,
            postback=PostBack(AllowedHosts.parse(), http=self.http),  # type: ignore[arg-type]
            dedupe=self.dedupe,
            unfurler=self.unfurler,
            now=lambda: NOW,
        )

    def send(self, path: str, request: tuple[dict[str, str], bytes]) -> tuple[int, dict[str, Any]]:
        headers, body = request
        with in_use(self.runtime):
            event = http_api_event("POST", path, headers, body, arrival_ms=NOW * 1000)
            result = relay_app.lambda_handler(event, LambdaContext())
        return result["statusCode"], json.loads(result["body"] or "{}")

    def posted(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.http.requests]

    def statuses(self) -> list[str]:
        return [job for op, job, _ in self.omni.calls if op == "status"]


def shortcut(message: dict[str, Any], user: str = ALICE, **fields: Any) -> tuple[dict[str, str], bytes]:
    return message_shortcut(
        message, secret=SIGNING_SECRET, timestamp=NOW, user_id=user, response_url=RESPONSE_URL, **fields
    )


def event(body: dict[str, Any], **fields: Any) -> tuple[dict[str, str], bytes]:
    fields.setdefault("secret", SIGNING_SECRET)
    return events_api(body, timestamp=NOW, **fields)


def press(job: str, user: str = ALICE, **fields: Any) -> tuple[dict[str, str], bytes]:
    return unfurl_click(job, LINK, secret=SIGNING_SECRET, timestamp=NOW, user_id=user, **fields)


def texts(message: dict[str, Any], *kinds: str) -> list[str]:
    """Every text of `message`'s blocks of the given kinds of element (mrkdwn, plain_text)."""
    found = []
    for block in message.get("blocks", []):
        for item in [block.get("text"), *block.get("elements", [])]:
            if isinstance(item, dict) and item.get("type") in kinds:
                found.append(item["text"])
    return found


def buttons(message: dict[str, Any]) -> list[tuple[str, bool]]:
    """(label, behind a confirm dialog) of each button in `message`."""
    return [
        (e["text"]["text"], "confirm" in e)
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
    ]


# The message shortcut ---------------------------------------------------------------------------


def test_the_shortcut_answers_one_row_per_job_of_an_alert_through_response_url():
    # Given a monitor's alert naming two jobs (a link with a label, and a bare id in a field)
    setup = Setup()
    alert = {
        "text": f"Omni job running for 2h: <{LINK}|open job>",
        "attachments": [{"fields": [{"title": "Previous job", "value": DONE}]}],
    }
    # When someone runs the shortcut on it
    status, reply = setup.send("/slack/interactions", shortcut(alert))
    # Then Slack is acknowledged at once, and the person gets one ephemeral answer with a row per job
    assert (status, reply) == (200, {})
    [answer] = setup.posted()
    assert answer["response_type"] == "ephemeral"
    assert sum(b["type"] == "divider" for b in answer["blocks"]) == 2
    said = " ".join(texts(answer, "mrkdwn", "plain_text"))
    assert f"Job `{RUNNING}` is EXECUTING" in said and f"Job `{DONE}` is COMPLETE" in said
    assert f"Prompt: {PROMPT}" in said and "Submitted:" in said
    # the running job can be cancelled (behind Slack's confirm dialog) and checked again; both open in Omni
    assert buttons(answer) == [("Cancel job", True), ("Check again", False), ("Open in Omni", False)] + [
        ("Open in Omni", False)
    ]
    assert setup.omni.cancels == [] and setup.statuses() == [RUNNING, DONE]


def test_a_row_of_the_list_cancels_in_a_message_of_its_own_and_the_list_stays():
    # Given the shortcut's answer listing two jobs
    setup = Setup()
    setup.send("/slack/interactions", shortcut({"text": f"{RUNNING} {DONE}"}))
    [listed] = setup.posted()
    [cancel] = [e for b in listed["blocks"] if b["type"] == "actions" for e in b["elements"] if "confirm" in e]
    # When the person presses the first row's Cancel (a click from an ephemeral message: no unfurl)
    click = json.loads(parse_qs(press(RUNNING, action_id=cancel["action_id"])[1].decode())["payload"][0])
    click["container"] = {"type": "message", "is_ephemeral": True, "message_ts": "1.2", "channel_id": CHANNEL}
    assert setup.send("/slack/interactions", signed_payload(click, SIGNING_SECRET, NOW))[0] == 200
    # Then the job is cancelled and the outcome comes as a new message: the list is not replaced
    assert setup.omni.cancels == [("cancel", RUNNING, OMNI_KEY)]
    told = setup.posted()[1]
    assert told["replace_original"] is False and "Cancelled Omni AI job" in told["text"]
    assert setup.unfurler.calls == []


def test_one_job_gets_the_same_reply_as_the_status_command():
    setup = Setup()
    setup.send("/slack/interactions", shortcut({"text": f"is {RUNNING} still going?"}))
    [answer] = setup.posted()
    command = slash_command(f"status {RUNNING}", secret=SIGNING_SECRET, timestamp=NOW, user_id=ALICE)
    _, replied = setup.send("/slack/commands", command)
    assert answer == replied


def test_a_message_without_a_job_gets_a_short_help_line_and_omni_is_not_called():
    setup = Setup()
    setup.send("/slack/interactions", shortcut({"text": f"lunch? https://evil.example/jobs/{RUNNING}"}))
    [answer] = setup.posted()
    assert answer["response_type"] == "ephemeral" and "I found no Omni job in that message" in answer["text"]
    assert setup.omni.calls == []


def test_a_resent_shortcut_is_answered_once():
    setup = Setup()
    request = shortcut({"text": RUNNING}, trigger_id="1700000000.1.resent")
    assert setup.send("/slack/interactions", request)[0] == 200
    assert setup.send("/slack/interactions", request)[0] == 200
    assert len(setup.posted()) == 1 and setup.statuses() == [RUNNING]


def test_someone_not_allowed_is_refused_in_the_shortcut_and_sees_no_prompt():
    setup = Setup(SLACK_ALLOWED_USERS=ALICE)
    setup.send("/slack/interactions", shortcut({"text": f"{RUNNING} {DONE}"}, user=OUTSIDER))
    [answer] = setup.posted()
    assert "You are not allowed to cancel Omni jobs" in json.dumps(answer)
    assert PROMPT not in json.dumps(answer) and setup.omni.calls == []


def test_a_guest_from_another_workspace_is_judged_by_their_own_workspace():
    # Given a Slack Connect channel: the payload's team is the host's, the guest's user.team_id their own
    setup = Setup()
    payload = json.loads(parse_qs(shortcut({"text": RUNNING}, user="U0GUEST01")[1].decode())["payload"][0])
    payload["user"]["team_id"] = "T0OTHER01"
    # When the guest runs the shortcut, Then they are refused as the other workspace's member they are
    setup.send("/slack/interactions", signed_payload(payload, SIGNING_SECRET, NOW))
    [answer] = setup.posted()
    assert "You are not allowed to cancel Omni jobs" in answer["text"] and setup.omni.calls == []


def test_a_forged_shortcut_is_401_and_nothing_is_read_or_posted():
    setup = Setup()
    status, reply = setup.send(
        "/slack/interactions", message_shortcut({"text": RUNNING}, secret="forged", timestamp=NOW)
    )
    assert status == 401 and reply["error"] == "invalid_signature"
    assert setup.posted() == [] and setup.omni.calls == []


# The Events API route ---------------------------------------------------------------------------


def test_url_verification_is_answered_only_when_signed():
    setup = Setup()
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    assert setup.send("/slack/events", event(challenge, secret="forged")) == (
        401,
        {"error": "invalid_signature", "message": "The Slack signature does not match."},
    )
    assert setup.send("/slack/events", event(challenge)) == (200, {"challenge": challenge["challenge"]})


def test_an_unsigned_or_stale_event_is_refused_and_nothing_is_unfurled():
    setup = Setup()
    headers, body = event(link_shared([LINK]))
    stale = events_api(link_shared([LINK]), secret=SIGNING_SECRET, timestamp=NOW - 600)
    assert setup.send("/slack/events", ({"Content-Type": "application/json"}, body))[0] == 401
    assert setup.send("/slack/events", stale)[0] == 401
    assert setup.unfurler.calls == [] and setup.omni.calls == []


def test_a_pasted_job_link_unfurls_into_its_state_age_and_progress_with_cancel_and_check_again():
    setup = Setup()
    other = f"https://evil.example/api/v1/ai/jobs/{DONE}"
    status, _ = setup.send("/slack/events", event(link_shared([LINK, other])))
    assert status == 200
    [call] = setup.unfurler.calls
    assert call["target"] == {"channel": CHANNEL, "ts": "1700000000.000200"} and call["token"] == BOT
    assert list(call["unfurls"]) == [LINK]  # only links to the configured Omni host
    card = call["unfurls"][LINK]
    shown = " ".join(texts(card, "mrkdwn", "plain_text"))
    assert f"Job `{RUNNING}` is EXECUTING" in shown and "Submitted:" in shown and "Progress: step 3" in shown
    assert buttons(card) == [("Cancel job", True), ("Check again", False)]
    # SlackAllowedChannels is "*": the channel is not listed itself, so no prompt, progress text or link
    assert PROMPT not in json.dumps(card) and "Scanning sessions" not in json.dumps(card)


def test_the_prompt_is_shown_only_in_a_channel_listed_in_slack_allowed_channels():
    setup = Setup(SLACK_ALLOWED_CHANNELS=CHANNEL)
    setup.send("/slack/events", event(link_shared([LINK])))
    card = setup.unfurler.calls[0]["unfurls"][LINK]
    assert f"Prompt: {PROMPT}" in texts(card, "plain_text")
    assert ("Open in Omni", False) in buttons(card)


def test_where_not_every_member_may_look_the_card_shows_the_id_only_and_omni_is_not_called():
    for env in ({"SLACK_ALLOWED_USERS": ALICE}, {"WHO_MAY_CANCEL": "owner-or-on-call"}):
        setup = Setup(**env)
        setup.send("/slack/events", event(link_shared([LINK], user_id=ALICE)))
        card = setup.unfurler.calls[0]["unfurls"][LINK]
        assert "EXECUTING" not in json.dumps(card) and PROMPT not in json.dumps(card), env
        assert buttons(card) == [("Cancel job", True), ("Check again", False)]
        assert setup.omni.calls == []


def test_retries_of_the_same_event_unfurl_once():
    setup = Setup()
    body = link_shared([LINK], event_id="Ev0RETRY001")
    for retry in (0, 1, 2):
        assert setup.send("/slack/events", event(body, retry_num=retry)) == (200, {})
    assert len(setup.unfurler.calls) == 1 and setup.statuses() == [RUNNING]


def test_a_finished_job_unfurls_saying_so_without_buttons():
    setup = Setup()
    link = f"https://{HOST}/api/v1/ai/jobs/{DONE}"
    setup.send("/slack/events", event(link_shared([link])))
    card = setup.unfurler.calls[0]["unfurls"][link]
    assert f"Job `{DONE}` is COMPLETE" in " ".join(texts(card, "mrkdwn")) and buttons(card) == []


def test_without_a_bot_token_unfurls_are_off_and_the_log_says_so_once(log_lines, monkeypatch):
    monkeypatch.setattr(slack_unfurl, "_unfurls_off_said", False)
    setup = Setup(bot_token="")
    for _ in range(2):
        assert setup.send("/slack/events", event(link_shared([LINK]))) == (200, {})
    assert setup.unfurler.calls == [] and setup.omni.calls == []
    assert log_lines.getvalue().count("Omni job links are not unfurled") == 1
    # and the shortcut still answers, through the payload's response_url
    setup.send("/slack/interactions", shortcut({"text": RUNNING}))
    assert "is EXECUTING" in setup.posted()[0]["text"]


def test_a_refused_chat_unfurl_is_logged_and_slack_still_gets_200(log_lines):
    setup = Setup()
    setup.unfurler.error = "the relay's Slack app lacks the links:write scope"
    assert setup.send("/slack/events", event(link_shared([LINK]))) == (200, {})
    assert "Slack did not take the unfurl" in log_lines.getvalue()


def test_events_not_subscribed_and_malformed_ones():
    setup = Setup()
    other = {"type": "event_callback", "team_id": TEAM, "event_id": "Ev1", "event": {"type": "app_mention"}}
    assert setup.send("/slack/events", event(other)) == (200, {})
    headers, body = event(link_shared([LINK]))
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert setup.send("/slack/events", (form, body))[0] == 415
    no_user = link_shared([LINK])
    del no_user["event"]["user"]
    assert setup.send("/slack/events", event(no_user))[0] == 400
    assert setup.send("/slack/events", event({"type": "url_verification"}))[0] == 400
    assert setup.unfurler.calls == []


def test_an_event_nested_too_deep_or_repeating_a_key_is_a_400_json_error():
    setup = Setup()
    deep = b'{"type": "event_callback", "event": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    twice = b'{"type": "url_verification", "challenge": "a", "challenge": "b"}'
    for body in (deep, twice):
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(NOW)}
        headers["X-Slack-Signature"] = sign(SIGNING_SECRET, body, NOW)
        status, reply = setup.send("/slack/events", (headers, body))
        assert status == 400 and reply["error"] == "malformed_request", reply
    assert setup.unfurler.calls == []


# The card's buttons ------------------------------------------------------------------------------


def test_cancel_on_a_card_cancels_tells_the_presser_and_brings_the_card_up_to_date():
    setup = Setup()
    status, _ = setup.send("/slack/interactions", press(RUNNING))
    assert status == 200
    assert setup.omni.cancels == [("cancel", RUNNING, OMNI_KEY)]
    [told] = setup.posted()
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False
    assert f"Cancelled Omni AI job `{RUNNING}`" in told["text"].replace(RUNNING, f"`{RUNNING}`")
    [call] = setup.unfurler.calls
    assert call["target"] == {"channel": CHANNEL, "ts": "1700000000.000200"}
    card = call["unfurls"][LINK]
    assert "Cancelled Omni AI job" in " ".join(texts(card, "mrkdwn")) and buttons(card) == []
    assert PROMPT not in json.dumps(card)  # the presser's answer may hold it; the channel's card does not


def test_an_outsider_pressing_cancel_on_a_card_is_refused():
    # Given a relay that lets only Alice cancel
    setup = Setup(SLACK_ALLOWED_USERS=ALICE)
    # When someone else in the channel presses the card's Cancel
    assert setup.send("/slack/interactions", press(RUNNING, user=OUTSIDER))[0] == 200
    # Then nothing is cancelled, they alone are told why, and the card stays as it was
    assert setup.omni.cancels == []
    [told] = setup.posted()
    assert "You are not allowed to cancel Omni jobs" in told["text"] and told["replace_original"] is False
    assert PROMPT not in json.dumps(told)
    assert setup.unfurler.calls == []


def test_check_again_on_a_card_answers_the_presser_and_a_resent_click_acts_once():
    setup = Setup()
    request = press(RUNNING, action_id="omni_check_here", action_ts="1700000001.000300")
    for _ in range(2):
        assert setup.send("/slack/interactions", request)[0] == 200
    assert len(setup.posted()) == 1 and setup.statuses() == [RUNNING] and setup.omni.cancels == []
    assert "is EXECUTING" in setup.posted()[0]["text"]


# Text from Omni is data ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["unfurl", "shortcut"])
def test_a_hostile_prompt_is_shown_literally(where: str):
    setup = Setup(prompt=HOSTILE, SLACK_ALLOWED_CHANNELS=CHANNEL)
    if where == "unfurl":
        setup.send("/slack/events", event(link_shared([LINK])))
        message = setup.unfurler.calls[0]["unfurls"][LINK]
    else:
        setup.send("/slack/interactions", shortcut({"text": f"{RUNNING} {DONE}"}))
        message = setup.posted()[0]
    assert f"Prompt: {SHOWN}" in texts(message, "plain_text")
    for text in texts(message, "mrkdwn") + [message.get("text", "")]:  # everything Slack parses as mrkdwn
        assert not any(m in text for m in MARKUP), text
