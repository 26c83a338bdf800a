"""Slack buttons through the local stack: verified, acknowledged with 200, the original message
replaced through response_url; a resent click is acted on once (DynamoDB in moto server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import urllib3

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.signers.slack import button_click


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config()) as running:
        yield running


def click(stack: LocalStack, headers: dict[str, str], body: bytes) -> int:
    return urllib3.request("POST", stack.url + "/slack/interactions", headers=headers, body=body, timeout=10).status


def test_a_cancel_button_replaces_the_message_with_the_outcome(stack: LocalStack):
    assert stack.omni and stack.capture
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    assert click(stack, *button_click(job, response_url=stack.capture.url("/b1"))) == 200
    posted = stack.capture.wait_for("/b1", timeout=5)
    assert posted[0]["replace_original"] is True and "Cancelled Omni AI job" in posted[0]["text"]


def test_check_again_shows_the_current_state_with_the_button_while_running(stack: LocalStack):
    assert stack.omni and stack.capture
    job = stack.omni.create_job(key=stack.config.omni_api_key, pinned="EXECUTING")
    assert click(stack, *button_click(job, action_id="omni_check_job", response_url=stack.capture.url("/b2"))) == 200
    posted = stack.capture.wait_for("/b2", timeout=5)[0]
    assert "is EXECUTING" in posted["text"]
    assert any(b["type"] == "actions" for b in posted["blocks"])


def test_the_same_click_resent_cancels_and_posts_once(stack: LocalStack):
    assert stack.omni and stack.capture
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    request = button_click(job, response_url=stack.capture.url("/b3"), action_ts="1700000001.000200")
    assert click(stack, *request) == 200
    assert click(stack, *request) == 200
    assert len(stack.capture.wait_for("/b3", timeout=2, count=2)) == 1
    assert len([c for c in stack.omni.cancel_calls() if c["job"] == job]) == 1


def test_a_forged_click_is_401(stack: LocalStack):
    assert stack.omni
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    assert click(stack, *button_click(job, secret="forged")) == 401
    assert stack.omni.job_state(job) == "QUEUED"
