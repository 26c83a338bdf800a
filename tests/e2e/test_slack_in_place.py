"""The message shortcut and link unfurls through the template-driven local stack: signed Slack
requests over HTTP to the routes template.yaml gives the relay, Omni in its emulator, chat.unfurl to
the Slack Web API stand-in, response_url posts to the capture server, de-duplication in DynamoDB on
moto under the relay's IAM policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.signers.slack import events_api, link_shared, message_shortcut, unfurl_click

TEAM, CHANNEL = "T0LOCAL01", "C0LOCAL01"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # Only team TEAM may cancel; every member of it may (so a card shows a job's state to its channel).
    with LocalStack(stack_config(params={"SlackAllowedTeams": TEAM})) as running:
        yield running


def send(stack: LocalStack, path: str, request: tuple[dict[str, str], bytes]) -> int:
    headers, body = request
    return urllib3.request("POST", stack.url + path, headers=headers, body=body, timeout=10).status


def link(stack: LocalStack, job: str) -> str:
    assert stack.omni is not None
    return f"{stack.omni.base_url}/v1/ai/jobs/{job}"


def said(message: dict[str, Any]) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks", []):
        for item in [block.get("text"), *block.get("elements", [])]:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])
    return "\n".join(parts).replace("`", "").replace("*", "")  # the words, without mrkdwn's code and bold


def test_the_shortcut_on_an_alert_answers_each_job_ephemerally(stack: LocalStack):
    assert stack.omni and stack.capture
    key = stack.config.omni_api_key
    first = stack.omni.create_job(key=key, pinned="EXECUTING", prompt="Every order joined to every session")
    second = stack.omni.create_job(key=key, pinned="QUEUED", prompt="Weekly active users")
    alert = {
        "text": "[Triggered] Omni jobs running long",
        "attachments": [{"text": f"<{link(stack, first)}|job 1>", "fields": [{"title": "job", "value": second}]}],
    }
    request = message_shortcut(alert, response_url=stack.capture.url("/shortcut-1"), trigger_id="1.2.e2e-shortcut")
    assert send(stack, "/slack/interactions", request) == 200
    [answer] = stack.capture.wait_for("/shortcut-1", timeout=5)
    shown = said(answer)
    assert answer["response_type"] == "ephemeral"
    assert f"Job {first} is EXECUTING" in shown and f"Job {second} is QUEUED" in shown
    assert "Prompt: Every order joined to every session" in shown
    # Slack's resend of the same shortcut is answered once (the idempotency table, under the relay's policy)
    assert send(stack, "/slack/interactions", request) == 200
    assert len(stack.capture.wait_for("/shortcut-1", timeout=1, count=2)) == 1
    assert stack.omni.job_state(first) == "EXECUTING" and not [
        c for c in stack.omni.cancel_calls() if c["job"] == first
    ]


def test_a_pasted_link_unfurls_and_is_cancelled_from_its_card(stack: LocalStack):
    assert stack.omni and stack.capture and stack.slack_api
    job = stack.omni.create_job(key=stack.config.omni_api_key, pinned="QUEUED", prompt="Churn by cohort")
    url = link(stack, job)
    event = link_shared([url], message_ts="1700000100.000100", event_id="Ev0E2E0001")
    # Slack's first delivery, and its resend of the same event: unfurled once
    assert send(stack, "/slack/events", events_api(event)) == 200
    assert send(stack, "/slack/events", events_api(event, retry_num=1)) == 200
    assert len(stack.slack_api.calls("chat.unfurl")) == 1
    card = stack.slack_api.unfurled(f"{CHANNEL}/1700000100.000100")[url]
    assert f"Job {job} is QUEUED" in said(card) and "Churn by cohort" not in said(card)
    # Someone presses Cancel on the card (Slack's confirm dialog accepted)
    press = unfurl_click(
        job, url, message_ts="1700000100.000100", response_url=stack.capture.url("/card-1"), action_ts="1.000001"
    )
    assert send(stack, "/slack/interactions", press) == 200
    assert stack.omni.job_state(job) == "CANCELLED"
    [told] = stack.capture.wait_for("/card-1", timeout=5)
    assert told["replace_original"] is False and f"Cancelled Omni AI job {job}" in said(told)
    card = stack.slack_api.unfurled(f"{CHANNEL}/1700000100.000100")[url]
    assert f"Cancelled Omni AI job {job}" in said(card) and not [b for b in card["blocks"] if b["type"] == "actions"]


def test_a_guest_from_another_workspace_pressing_cancel_is_refused(stack: LocalStack):
    assert stack.omni and stack.capture and stack.slack_api
    job = stack.omni.create_job(key=stack.config.omni_api_key, pinned="QUEUED")
    url = link(stack, job)
    press = unfurl_click(job, url, team_id="T0OTHER01", user_id="U0GUEST01", response_url=stack.capture.url("/card-2"))
    assert send(stack, "/slack/interactions", press) == 200
    [told] = stack.capture.wait_for("/card-2", timeout=5)
    assert "You are not allowed to cancel Omni jobs" in said(told)
    assert stack.omni.job_state(job) == "QUEUED" and [c for c in stack.omni.cancel_calls() if c["job"] == job] == []


def test_url_verification_and_a_forged_event(stack: LocalStack):
    challenge = {"type": "url_verification", "token": "x", "challenge": "e2e-challenge-0123"}
    headers, body = events_api(challenge)
    response = urllib3.request("POST", stack.url + "/slack/events", headers=headers, body=body, timeout=10)
    assert response.status == 200 and response.json() == {"challenge": "e2e-challenge-0123"}
    assert send(stack, "/slack/events", events_api(challenge, secret="forged")) == 401
