"""Text from Omni is data, never markup: a prompt full of mentions, links and markup is shown
literally, and pings nobody, on every surface the relay writes to."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from omni_relay.adapters.omni import OmniReply
from omni_relay.presentation.markup import code_span
from tests.fakes import FakeOmni
from tests.unit.conftest import NOW, SIGNING_SECRET
from tests.unit.test_webhooks import CALLBACK, COMMENTS, JOB, build, event, invoke_on
from tools.signers.events import slack_event

HOSTILE = (
    "<!channel> <!here> <@U0ADMIN01> <https://evil.example|click> @acme/oncall #12 "
    "[x](javascript:alert(1)) ![i](https://evil.example/i.png) <script>x</script> *bold* `tick`` "
    "{color:red}h1. Jira{color} [~accountid:123] &amp; --- > quote"
)
SHOWN = " ".join(HOSTILE.split())[:120] + "…"  # the first 120 characters, as every surface shows them
# What would turn into a mention, a link or markup somewhere.
MARKUP = ("<!", "<@", "<http", "@acme", "](", "<script", "{color", "[~")


def hostile_omni() -> FakeOmni:
    def answer(op: str, job: str, token: str) -> OmniReply:
        if op == "cancel":
            return OmniReply(200, {"jobId": job, "state": "CANCELLED"})
        body = {"id": job, "state": "CANCELLED", "prompt": HOSTILE, "omniChatUrl": "javascript:alert(1)"}
        return OmniReply(200, body)

    return FakeOmni(answer)


def test_slack_shows_the_prompt_as_plain_text_only(secrets, use_runtime):
    from omni_relay.wiring import Runtime
    from tests.unit.conftest import make_settings
    from tests.unit.test_relay_handler import invoke

    use_runtime(Runtime(make_settings(), secrets, hostile_omni(), now=lambda: NOW))
    status, reply = invoke(slack_event("/slack/commands", JOB, secret=SIGNING_SECRET, timestamp=NOW))
    assert status == 200
    plain = [e for b in reply["blocks"] if b["type"] == "context" for e in b["elements"] if e["type"] == "plain_text"]
    assert {"type": "plain_text", "text": f"Prompt: {SHOWN}", "emoji": False} in plain
    parsed = [reply["text"]] + [json.dumps(b) for b in reply["blocks"] if b["type"] != "context"]
    parsed += [
        e["text"] for b in reply["blocks"] if b["type"] == "context" for e in b["elements"] if e["type"] == "mrkdwn"
    ]
    for text in parsed:  # everything Slack parses as mrkdwn
        assert not any(m in text for m in MARKUP), text
    urls = [e.get("url") for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert not any(urls)  # no "Open in Omni" link made of a hostile URL


def comments_and_callback(source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    runtime, http, _ = build(hostile_omni())
    [(status, reply)] = invoke_on(runtime, event(source))
    assert status == 200
    sent = {r["url"]: r["body"] for r in http.requests}
    return reply, sent


def outside_code_spans(text: str) -> str:
    return re.sub(r"(`+).*?\1", "", text)


@pytest.mark.parametrize("source", ["github", "linear"])
def test_markdown_comments_hold_the_prompt_in_a_code_span(source: str):
    _, sent = comments_and_callback(source)
    body = sent[COMMENTS[source][1]]
    text = body["body"] if source == "github" else body["variables"]["input"]["body"]
    assert f"Prompt: {code_span(SHOWN)}" in text
    assert not any(m in outside_code_spans(text) for m in MARKUP), text


def test_jira_comments_are_adf_text_nodes_only():
    _, sent = comments_and_callback("jira")
    document = sent[COMMENTS["jira"][1]]["body"]
    nodes = [node for paragraph in document["content"] for node in paragraph["content"]]
    assert all(set(node) == {"type", "text"} and node["type"] == "text" for node in nodes)  # no marks, no links
    assert any(f"Prompt: {SHOWN}" in node["text"] for node in nodes)


@pytest.mark.parametrize("source", ["zendesk", "pagerduty"])
def test_plain_text_comments_carry_the_prompt_as_written(source: str):
    _, sent = comments_and_callback(source)
    body = sent[COMMENTS[source][1]]
    text = body["ticket"]["comment"]["body"] if source == "zendesk" else body["note"]["content"]
    assert f"Prompt: {SHOWN}" in text
    assert "html_body" not in json.dumps(body)  # Zendesk's HTML field is never used


def test_a_teams_reply_escapes_every_tag_and_markdown_character():
    reply, _ = comments_and_callback("teams")
    assert "&lt;\\!channel&gt;" in reply["text"] and "\\[x\\]\\(javascript:alert\\(1\\)\\)" in reply["text"]
    assert not re.search(r"(?<!\\)[<\[]", reply["text"].split("Prompt: ", 1)[1]), reply["text"]


def test_the_callback_and_the_json_reply_carry_the_prompt_as_data():
    reply, sent = comments_and_callback("standard")
    assert reply["job"]["prompt"] == HOSTILE
    assert sent[CALLBACK]["data"]["job"]["prompt"] == HOSTILE
    assert "Open in Omni" not in reply["message"]  # javascript: is never offered as a link
