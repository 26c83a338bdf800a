"""The local stack as a user drives it: signed Slack form posts over HTTP to the gateway, the relay
reading secrets from moto server and cancelling jobs in the Omni emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.send import as_slack_shows, post_command

TEAM, ALICE, MALLORY = "T0E2E0001", "U0ALICE01", "U0MALLORY"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = stack_config(params={"SlackAllowedTeams": TEAM, "SlackAllowedUsers": ALICE})
    with LocalStack(config) as running:
        yield running


def send(stack: LocalStack, text: str, user: str = ALICE, **fields: object) -> tuple[int, str]:
    status, payload = post_command(stack.url, text, team_id=TEAM, user_id=user, **fields)  # type: ignore[arg-type]
    return status, as_slack_shows(status, payload)


def test_queued_job_is_cancelled(stack: LocalStack):
    omni = stack.omni
    assert omni is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    status, text = send(stack, job)
    assert status == 200 and "Cancelled Omni AI job" in text
    assert omni.job_state(job) == "CANCELLED"


def test_executing_job_stops_after_its_step(stack: LocalStack):
    omni = stack.omni
    assert omni is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=0, executing_s=600)
    status, text = send(stack, omni.job_url(job))  # a job URL on the configured Omni
    assert status == 200 and "after its current step" in text
    omni.state.clock.advance(5)
    assert omni.job_state(job) == "CANCELLED"


@pytest.mark.parametrize(
    ("pinned", "words"),
    [("DELIVERING", "can no longer be cancelled"), ("COMPLETE", "already finished"), ("FAILED", "already finished")],
)
def test_jobs_past_cancelling(stack: LocalStack, pinned: str, words: str):
    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, pinned=pinned)
    assert words in send(stack, job)[1]


def test_unknown_and_other_org_jobs_are_not_found(stack: LocalStack):
    assert stack.omni is not None
    theirs = stack.omni.create_job(org="another-org", pinned="EXECUTING")
    assert "No job" in send(stack, theirs)[1]
    assert "No job" in send(stack, "0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b")[1]


def test_a_user_off_the_allow_list_is_refused_and_omni_never_called(stack: LocalStack):
    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    before = len(stack.omni.cancel_calls())
    status, text = send(stack, job, user=MALLORY)
    assert status == 200 and "not allowed" in text
    assert f"team id `{TEAM}` and user id `{MALLORY}`" in text  # what the admin needs to add them
    assert len(stack.omni.cancel_calls()) == before
    assert stack.omni.job_state(job) == "QUEUED"


def test_forged_and_replayed_requests_are_401(stack: LocalStack):
    assert send(stack, "help", secret="forged")[0] == 401
    assert send(stack, "help", timestamp=int(time.time()) - 400)[0] == 401


def test_slow_omni_is_answered_within_slacks_3_seconds(stack: LocalStack):
    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    stack.omni.set_faults(latency_s=6)
    started = time.monotonic()
    status, text = send(stack, job)
    elapsed = time.monotonic() - started
    assert status == 200 and elapsed < 3.0
    assert "I will post the result here" in text


def test_omni_rate_limiting_is_never_shown_as_a_failure(stack: LocalStack):
    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    stack.omni.set_faults(status=429, count=-1, retry_after="60")
    status, text = send(stack, job)
    assert status == 200 and "I will post the result here" in text
