"""Issue: never miss Slack's deadline, never lose a cancel. Slow Omni -> immediate answer, then the
worker (polling the queue in moto server) posts the final state to a response_url capture server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.send import as_slack_shows, post_command
from local.stack import LocalStack, StackConfig


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = StackConfig(queue_visibility_s=2, max_receives=2, env={"POWERTOOLS_LOG_LEVEL": "CRITICAL"})
    with LocalStack(config) as running:
        yield running


def test_a_10_second_omni_is_answered_at_once_and_finished_by_the_worker(stack: LocalStack):
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    jobs = [omni.create_job(key=stack.config.omni_api_key, queued_s=600) for _ in range(2)]
    omni.set_faults(latency_s=10)
    elapsed = []
    for i, job in enumerate(jobs):
        started = time.monotonic()
        status, payload = post_command(stack.url, job, response_url=capture.url(f"/slow/{i}"))
        elapsed.append(time.monotonic() - started)
        assert status == 200
        assert "I will post the result here" in as_slack_shows(status, payload)
    assert max(elapsed) < 2.5, elapsed
    for i, job in enumerate(jobs):
        posted = capture.wait_for(f"/slow/{i}", timeout=40)
        assert posted, f"no post-back for job {i}"
        assert posted[0]["replace_original"] is True
        assert "Cancelled Omni AI job" in posted[0]["text"]
        assert omni.job_state(job) == "CANCELLED"


def test_omni_down_for_every_attempt_tells_the_user_and_parks_the_task_in_the_dlq(stack: LocalStack):
    import boto3

    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(status=503, count=-1)
    status, payload = post_command(stack.url, job, response_url=capture.url("/down"))
    assert status == 200 and "I will post the result here" in as_slack_shows(status, payload)
    posted = capture.wait_for("/down", timeout=30)
    assert posted and "could not cancel" in posted[0]["text"]
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + 15
    parked: list = []
    while time.monotonic() < deadline and not parked:
        parked = sqs.receive_message(QueueUrl=stack.dlq_url, WaitTimeSeconds=1).get("Messages", [])
    assert parked and job in parked[0]["Body"]


def test_a_reply_url_off_the_allow_list_is_never_promised_a_post_back(stack: LocalStack):
    omni = stack.omni
    assert omni is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(latency_s=5)
    status, payload = post_command(stack.url, job, response_url="https://evil.example.com/hook")
    assert status == 200 and "did not respond in time" in as_slack_shows(status, payload)


def test_redrive_finishes_a_parked_cancel_once_omni_is_back(stack: LocalStack):
    from local.redrive import redrive

    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(status=500, count=-1)
    post_command(stack.url, job, response_url=capture.url("/redrive"))
    assert capture.wait_for("/redrive", timeout=30)  # told it failed
    omni.set_faults()  # Omni is back
    deadline = time.monotonic() + 20
    moved = 0
    while not moved and time.monotonic() < deadline:  # the DLQ move happens on the receive after the last failure
        moved = redrive(stack.dlq_url, stack.queue_url)
    assert moved >= 1
    posted = capture.wait_for("/redrive", timeout=20, count=2)
    assert "Cancelled Omni AI job" in posted[-1]["text"]
    assert omni.job_state(job) == "CANCELLED"


def test_a_worker_killed_mid_batch_loses_nothing(stack: LocalStack):
    from local.worker_poller import QueuePoller
    from omni_relay.domain import Requester
    from omni_relay.handoff import CancelTask, SqsTaskQueue

    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    stack.poller.stop()  # the stack's own worker steps aside while one dies mid-batch
    try:
        jobs = [omni.create_job(key=stack.config.omni_api_key, queued_s=600) for _ in range(3)]
        queue = SqsTaskQueue(stack.queue_url)
        for i, job in enumerate(jobs):
            queue.send(
                CancelTask(
                    job, Requester("slack", "U0LOCAL01", "T0LOCAL01"), capture.url(f"/kill/{i}"), request_id=f"kill-{i}"
                )
            )

        def dies(event: dict, context: object) -> dict:
            raise SystemExit("worker killed")  # the process ends before it deletes anything

        with pytest.raises(SystemExit):
            QueuePoller(dies, stack.queue_url).poll_once()
    finally:
        stack.poller = QueuePoller(__import__("worker_app").lambda_handler, stack.queue_url).start()
    for i, job in enumerate(jobs):  # back after the visibility timeout (2 s here), finished once
        assert capture.wait_for(f"/kill/{i}", timeout=20), f"task {i} was lost"
        assert omni.job_state(job) == "CANCELLED"
