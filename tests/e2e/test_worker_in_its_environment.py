"""Handed-off cancels finished by the worker in the environment template.yaml gives it (its own
processes, its own variables, its own IAM policy), with allow-lists set as an operator sets them:
Slack open to every team, GitHub to one repository only. The worker judges each task by its own
source's allow-list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import ReplyTarget
from omni_relay.domain.tasks import CancelTask
from tests.e2e.helpers import comments_about, stack_config
from tools.send import as_slack_shows, post_command, post_webhook

REPO = "acme/data-platform"  # the repository tools.signers.webhooks's GitHub deliveries come from
COMMENTS = f"/github/repos/{REPO}/issues/42/comments"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    params = {"SlackAllowedTeams": "*", "GithubAllowed": REPO}
    with LocalStack(stack_config(params=params)) as running:
        yield running


def test_the_worker_gets_every_allow_list_the_relay_gets(stack: LocalStack):
    relay, worker = stack.environments["RelayFunction"], stack.environments["WorkerFunction"]
    allow_lists = {name for name in relay if name.endswith("_ALLOWED") or name.startswith("SLACK_ALLOWED_")}
    assert len(allow_lists) >= 11
    assert {name: worker.get(name) for name in allow_lists} == {name: relay[name] for name in allow_lists}
    assert worker["GITHUB_ALLOWED"] == REPO and worker["SLACK_ALLOWED_TEAMS"] == "*"


def test_a_handed_off_slack_org_key_cancel_is_finished_by_the_worker(stack: LocalStack):
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(status=503, count=-1)  # Omni is down while the relay tries, within Slack's 3 s
    status, payload = post_command(stack.url, job, response_url=capture.url("/shape/slack"))
    assert status == 200 and "I will post the result here" in as_slack_shows(status, payload)
    omni.set_faults()  # … and back for the worker's retry
    [posted] = capture.wait_for("/shape/slack", timeout=30)
    assert posted["replace_original"] is True and "Cancelled Omni AI job" in posted["text"]
    assert omni.job_state(job) == "CANCELLED"
    assert stack.pools["WorkerFunction"].cold_starts >= 1


def test_a_handed_off_github_cancel_is_finished_by_the_worker_and_commented(stack: LocalStack):
    omni = stack.omni
    assert omni is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(status=503, count=-1)
    status, reply = post_webhook(stack.url, "github", job)
    assert (status, reply["outcome"]) == (202, "pending")
    omni.set_faults()
    comments = comments_about(stack, COMMENTS, job)
    assert comments and "Cancelled Omni AI job" in comments[-1]["body"]["body"]
    assert omni.job_state(job) == "CANCELLED"


def test_a_github_task_from_a_repository_not_allowed_is_refused_by_the_worker_though_slack_allows_all(
    stack: LocalStack,
):
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    earlier = len(capture.wait_for(COMMENTS, timeout=0))
    outsider = Requester("github", "mallory", scope="evil/fork")
    task = CancelTask(job, outsider, ReplyTarget(thread={"repo": REPO, "number": "42"}), "gh-delivery-outsider")
    stack.aws("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=task.to_json())
    comments = capture.wait_for(COMMENTS, timeout=30, count=earlier + 1)
    assert len(comments) == earlier + 1 and "not allowed to cancel" in comments[-1]["body"]
    assert omni.job_state(job) == "QUEUED"
    assert not [call for call in omni.cancel_calls() if call["job"] == job]
