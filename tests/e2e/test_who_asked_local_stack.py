"""Who asked, and what they asked, over the template-driven local stack: the attacks that cancelled a
job end to end before the identity model and the command grammar, each now answered without Omni's
cancel (the emulator's job keeps running)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.send import post_command, post_webhook
from tools.signers.webhooks import payload

VICTIM = "583231"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = stack_config(params={"GithubAllowed": "acme/data-platform", "ZendeskAllowed": "360002470971"})
    with LocalStack(config) as running:
        yield running


def running_job(stack: LocalStack) -> str:
    assert stack.omni is not None
    return stack.omni.create_job(key=stack.config.omni_api_key, pinned="EXECUTING", prompt="Revenue by customer")


def state(stack: LocalStack, job: str) -> str:
    assert stack.omni is not None
    return stack.omni.job_state(job)


def github_body(job: str, text: str, *, association: str = "MEMBER", login: str = "octocat", private: bool = True):
    import time

    body = payload("github", job, text=text, now=int(time.time()))
    body["sender"] = {"login": login, "id": 999, "type": "User"}
    body["comment"]["author_association"] = association
    body["repository"]["private"] = private
    return body


@pytest.mark.parametrize("spelling", ["status\u00a0{job}", "status\t{job}", "status: {job}", "Status, {job}"])
def test_status_in_any_spelling_only_looks_from_slack(stack: LocalStack, spelling: str):
    job = running_job(stack)
    status, reply = post_command(stack.url, spelling.format(job=job), team_id="T0LOCAL01")
    assert status == 200 and state(stack, job) == "EXECUTING", reply


@pytest.mark.parametrize(
    "text",
    [
        "See https://wiki.acme.example/omni-cancelling-jobs first: job {job} must keep running",
        "do NOT /omni-cancel anything today, job {job} is the quarterly close",
        "/omni-cancel-relay is great; {job} finished fine",
        "> /omni-cancel\n\nthat is what I would type\n\nbut {job} is fine",
    ],
)
def test_a_comment_that_mentions_the_command_or_a_job_cancels_nothing(stack: LocalStack, text: str):
    job = running_job(stack)
    status, reply = post_webhook(stack.url, "github", job, body=github_body(job, text.format(job=job)))
    assert status in (200, 422) and state(stack, job) == "EXECUTING", reply


def test_a_digit_login_is_not_the_numeric_id_and_an_outsider_is_refused(stack: LocalStack):
    job = running_job(stack)
    body = github_body(job, f"/omni-cancel {job}", association="NONE", login=VICTIM, private=False)
    status, reply = post_webhook(stack.url, "github", job, body=body)
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and state(stack, job) == "EXECUTING"
    assert "Revenue by customer" not in json.dumps(reply)


def test_a_zendesk_end_user_is_refused(stack: LocalStack):
    import time

    job = running_job(stack)
    body = payload("zendesk", job, now=int(time.time()))
    body["event"]["comment"]["author"]["is_staff"] = False
    status, reply = post_webhook(stack.url, "zendesk", job, body=body)
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and state(stack, job) == "EXECUTING"


def test_a_member_still_cancels_with_the_grammar(stack: LocalStack):
    job = running_job(stack)
    body = github_body(job, f"Runaway again.\n\n/omni-cancel {job} because it scans 4 TB")
    status, reply = post_webhook(stack.url, "github", job, body=body)
    assert status == 200 and reply["outcome"] in ("stopping", "cancelled"), reply
