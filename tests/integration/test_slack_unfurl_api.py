"""SlackApi.unfurl (chat.unfurl) against the Slack Web API stand-in over HTTP on loopback: the
documented request shapes (a JSON body with a bearer token, or form fields with `unfurls` as a JSON
string) and error answers, as the relay reads them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import urllib3

from local.standins.slack_web_api import BOT_TOKEN, SlackWebApi
from omni_relay.adapters.slack_api import SlackApi
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import UnfurlFailed

URL = "https://acme.omniapp.co/api/v1/ai/jobs/3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
CARD = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Omni AI job*"}}]}


@pytest.fixture
def slack() -> Iterator[SlackWebApi]:
    with SlackWebApi() as api:
        api.directory.unfurl_domains = {"acme.omniapp.co"}
        yield api


def unfurl(slack: SlackWebApi, target: dict[str, str], token: str = BOT_TOKEN, url: str = URL) -> None:
    SlackApi(slack.url).unfurl(target, {url: CARD}, token, Deadline.within(2))


def test_a_card_is_attached_to_the_message_or_the_composer(slack: SlackWebApi):
    unfurl(slack, {"channel": "C0LOCAL01", "ts": "1.2"})
    unfurl(slack, {"unfurl_id": "Uf0001", "source": "composer"})
    assert slack.unfurled("C0LOCAL01/1.2") == {URL: CARD} and slack.unfurled("Uf0001") == {URL: CARD}


def test_the_form_shape_slack_also_documents_is_taken(slack: SlackWebApi):
    fields = {"token": BOT_TOKEN, "channel": "C1", "ts": "9.9", "unfurls": json.dumps({URL: CARD})}
    body = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = urllib3.request("POST", f"{slack.url}/chat.unfurl", body=body, headers=headers)
    assert response.json() == {"ok": True} and slack.unfurled("C1/9.9") == {URL: CARD}


@pytest.mark.parametrize(
    ("change", "reason", "setup"),
    [
        (lambda s: s.directory.scopes.discard("links:write"), "lacks the links:write scope", True),
        (lambda s: setattr(s.directory, "token", "xoxb-rotated"), "missing, revoked or invalid", True),
    ],
)
def test_setup_problems_say_what_to_fix(slack: SlackWebApi, change, reason: str, setup: bool):
    change(slack)
    with pytest.raises(UnfurlFailed) as raised:
        unfurl(slack, {"channel": "C1", "ts": "1.2"})
    assert reason in raised.value.reason and raised.value.setup is setup


@pytest.mark.parametrize(
    ("target", "url", "error"),
    [
        ({"channel": "C1"}, URL, "missing_ts"),
        ({"ts": "1.2"}, URL, "missing_channel"),
        ({"unfurl_id": "Uf1", "source": "elsewhere"}, URL, "invalid_source"),
        ({"channel": "C1", "ts": "1.2"}, "https://evil.example/jobs/x", "cannot_unfurl_url"),
    ],
)
def test_slack_errors_are_unfurl_failures_naming_them(slack: SlackWebApi, target: dict[str, str], url: str, error: str):
    with pytest.raises(UnfurlFailed, match=f"Slack answered {error}") as raised:
        unfurl(slack, target, url=url)
    assert raised.value.setup is False


def test_no_token_and_no_slack_fail_without_raising_anything_else(slack: SlackWebApi):
    with pytest.raises(UnfurlFailed, match="no bot_token"):
        unfurl(slack, {"channel": "C1", "ts": "1.2"}, token="")
    slack.directory.mode = "down"
    with pytest.raises(UnfurlFailed, match="HTTP 503"):
        unfurl(slack, {"channel": "C1", "ts": "1.2"})
