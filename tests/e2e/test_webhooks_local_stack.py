"""Webhook sources through the local stack: signed deliveries over HTTP, secrets from moto server,
cancels in the Omni emulator, comments and the signed callback to the capture server, hand-off and
de-duplication through moto's SQS and DynamoDB."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.cloud.stack import CALLBACK_SECRET, LocalStack
from omni_relay.presentation.messages import RELAY_MARK
from omni_relay.sources.signing import standard_signature, whsec_key
from tests.e2e.helpers import comments_about, stack_config
from tools.send import post_webhook


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = stack_config(params={"TaskMaxReceiveCount": "3"})
    with LocalStack(config) as running:
        yield running


def new_job(stack: LocalStack, **kwargs: object) -> str:
    assert stack.omni is not None
    return stack.omni.create_job(key=stack.config.omni_api_key, **kwargs)


def test_jira_comment_cancels_and_comments_back_on_the_issue(stack: LocalStack):
    job = new_job(stack, pinned="QUEUED")
    status, reply = post_webhook(stack.url, "jira", job)
    assert (status, reply["outcome"], reply["state"]) == (200, "cancelled", "CANCELLED")
    [comment] = comments_about(stack, "/jira/rest/api/3/issue/DATA-7/comment", job)
    assert comment["method"] == "POST" and comment["headers"]["authorization"].startswith("Basic ")
    paragraphs = comment["body"]["body"]["content"]  # one ADF paragraph of text a line
    said = "\n".join(node["text"] for p in paragraphs for node in p["content"])
    assert said == f"{reply['message']}\n{RELAY_MARK}"


def test_teams_mention_is_answered_with_a_teams_message(stack: LocalStack):
    job = new_job(stack, pinned="EXECUTING")
    status, reply = post_webhook(stack.url, "teams", job)
    assert status == 200 and reply["type"] == "message" and "will stop it" in reply["text"]
    assert stack.omni is not None and stack.omni.job_state(job) in ("EXECUTING", "CANCELLED")


def test_the_callback_is_signed_so_the_receiver_can_verify_it(stack: LocalStack):
    job = new_job(stack, pinned="QUEUED")
    post_webhook(stack.url, "standard", job)
    [callback] = comments_about(stack, "/callback", job)
    h = callback["headers"]
    expected = standard_signature(whsec_key(CALLBACK_SECRET), h["webhook-id"], h["webhook-timestamp"], callback["raw"])
    assert h["webhook-signature"] == expected
    assert callback["body"]["data"]["outcome"] == "cancelled" and callback["body"]["data"]["source"] == "standard"


def test_a_redelivered_github_event_cancels_once(stack: LocalStack):
    assert stack.omni is not None
    job = new_job(stack, pinned="QUEUED")
    delivery, sent = "72d3162e-cc78-11e3-81ab-4c9367dc0958", int(time.time())  # the same bytes, twice
    first = post_webhook(stack.url, "github", job, delivery_id=delivery, now=sent)
    again = post_webhook(stack.url, "github", job, delivery_id=delivery, now=sent)
    assert first == again and first[0] == 200
    assert len([c for c in stack.omni.cancel_calls() if c["job"] == job]) == 1
    time.sleep(0.3)
    assert len(comments_about(stack, "/github/repos/acme/data-platform/issues/42/comments", job)) == 1


def test_a_slow_omni_gets_202_in_time_and_the_worker_comments_the_result(stack: LocalStack):
    assert stack.omni is not None
    job = new_job(stack, queued_s=600)
    stack.omni.set_faults(latency_s=4)  # PagerDuty waits 5 s; the relay keeps 2.9 s for Omni
    started = time.monotonic()
    status, reply = post_webhook(stack.url, "pagerduty", job)
    took = time.monotonic() - started
    assert (status, reply["outcome"]) == (202, "pending") and took < 4.5, took
    assert "I will post the result here" in reply["message"]
    notes = comments_about(stack, "/pagerduty/incidents/PGR0VU2/notes", job, timeout=30)
    assert notes and "Cancelled Omni AI job" in notes[-1]["body"]["note"]["content"]
    assert notes[-1]["headers"]["from"] == "relay@acme.example"
    assert stack.omni.job_state(job) == "CANCELLED"


def test_a_slow_omni_on_teams_promises_only_what_happens(stack: LocalStack):
    assert stack.omni is not None
    job = new_job(stack, queued_s=600)
    stack.omni.set_faults(latency_s=4)
    status, reply = post_webhook(stack.url, "teams", job)
    assert status == 200 and "sends the result to its callback" in reply["text"]
    assert "post the result here" not in reply["text"]
    [callback] = comments_about(stack, "/callback", job, timeout=30)
    assert callback["body"]["data"]["outcome"] == "cancelled"


def test_a_github_comment_on_an_issue_holding_a_long_log_cancels(stack: LocalStack):
    """73,797 bytes, as GitHub delivers a comment on an issue whose description is a pasted log."""
    from tools.signers.webhooks import github_comment_on_a_long_issue

    job = new_job(stack, pinned="QUEUED")
    body = github_comment_on_a_long_issue(job)
    status, reply = post_webhook(stack.url, "github", job, body=body)
    assert (status, reply.get("outcome"), reply.get("state")) == (200, "cancelled", "CANCELLED"), reply
    assert stack.omni is not None and stack.omni.job_state(job) == "CANCELLED"
