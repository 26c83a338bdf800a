"""Owner-or-on-call over the local stack, as a team deploys it (WhoMayCancel=owner-or-on-call,
OnCall=a Slack user group): the relay in its own processes asks the Slack Web API stand-in who
people are and Omni's SCIM (the emulator) which Omni user that is, then cancels or refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.send import as_slack_shows, post_command

ALICE, BOB, ERIN = "U0ALICE01", "U0BOB0001", "U0ERIN001"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = stack_config(params={"WhoMayCancel": "owner-or-on-call", "OnCall": "S0ONCALL1"})
    with LocalStack(config) as running:
        assert running.omni is not None and running.slack_api is not None
        for slack_id, email, omni_id in (
            (ALICE, "alice@acme.com", "u-alice"),
            (BOB, "bob@acme.com", "u-bob"),
            (ERIN, "erin@acme.com", "u-erin"),
        ):
            running.slack_api.add_user(slack_id, email)
            running.omni.add_user(omni_id, email, email.split("@")[0].title())
        running.slack_api.add_group("S0ONCALL1", [ERIN])
        yield running


def alices_job(stack: LocalStack) -> str:
    assert stack.omni is not None
    return stack.omni.create_job(owner="u-alice", pinned="QUEUED", prompt="Churn by cohort")


def test_the_owner_cancels_someone_else_is_refused_on_call_cancels(stack: LocalStack):
    job = alices_job(stack)
    status, reply = post_command(stack.url, job, user_id=BOB)
    shown = as_slack_shows(status, reply)
    assert "Only the job's owner or on-call can cancel" in shown and "Owner: Alice (alice@acme.com)" in shown
    assert stack.omni is not None and stack.omni.job_state(job) == "QUEUED"

    status, reply = post_command(stack.url, job, user_id=ALICE)
    assert "Cancelled Omni AI job" in as_slack_shows(status, reply)
    assert stack.omni.job_state(job) == "CANCELLED"

    other = alices_job(stack)
    status, reply = post_command(stack.url, other, user_id=ERIN)  # on call through the Slack user group
    assert "Cancelled Omni AI job" in as_slack_shows(status, reply)
    assert stack.omni.job_state(other) == "CANCELLED"


def test_when_slack_cannot_say_who_asked_nothing_is_cancelled(stack: LocalStack):
    assert stack.slack_api is not None and stack.omni is not None
    job = alices_job(stack)
    stack.slack_api.directory.mode = "rate_limited"
    try:
        status, reply = post_command(stack.url, job, user_id="U0NEWCOMER")
    finally:
        stack.slack_api.directory.mode = "ok"
    assert "I could not tell who you are in Omni (Slack is rate-limiting" in as_slack_shows(status, reply)
    assert stack.omni.job_state(job) == "QUEUED"


def test_a_handed_off_cancel_is_checked_and_finished_by_the_worker_in_its_own_environment(stack: LocalStack):
    """Omni slower than Slack's deadline: the worker, with the permissions the template gives it,
    asks Slack and Omni who asked (the bot token is in the Slack secret) and cancels for the owner."""
    assert stack.omni is not None and stack.capture is not None
    job = alices_job(stack)
    stack.omni.set_faults(latency_s=4)
    try:
        status, reply = post_command(stack.url, job, user_id=ALICE, response_url=stack.capture.url("/owner-slow"))
        assert "I will post the result here" in as_slack_shows(status, reply)
        [posted] = stack.capture.wait_for("/owner-slow", timeout=60)
    finally:
        stack.omni.set_faults()
    assert "Cancelled Omni AI job" in posted["text"] and stack.omni.job_state(job) == "CANCELLED"
