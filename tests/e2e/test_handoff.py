"""Never miss Slack's deadline, never lose a cancel. Slow Omni -> immediate answer, then the worker
(its own processes, fed by the template's SQS event source) posts the final state to a response_url
capture server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.send import as_slack_shows, post_command


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = stack_config(params={"TaskMaxReceiveCount": "2"})
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
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    omni.set_faults(status=503, count=-1)
    status, payload = post_command(stack.url, job, response_url=capture.url("/down"))
    assert status == 200 and "I will post the result here" in as_slack_shows(status, payload)
    posted = capture.wait_for("/down", timeout=30)
    assert posted and "could not cancel" in posted[0]["text"]
    sqs = stack.aws("sqs")
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
    from tools.redrive import redrive

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
        moved = redrive(stack.dlq_url, stack.queue_url, sqs=stack.aws("sqs"))
    assert moved >= 1
    posted = capture.wait_for("/redrive", timeout=20, count=2)
    assert "Cancelled Omni AI job" in posted[-1]["text"]
    assert omni.job_state(job) == "CANCELLED"


def test_a_worker_killed_mid_batch_loses_nothing(stack: LocalStack):
    import threading

    from omni_relay.domain.identity import Requester
    from omni_relay.domain.model import ReplyTarget
    from omni_relay.domain.tasks import CancelTask

    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    [source] = stack.sources
    source.stop()  # the event source steps aside while a worker dies mid-batch
    worker = stack.pools["WorkerFunction"]
    worker.stop()  # and the next batch starts a new (cold) execution environment
    sqs = stack.aws("sqs")
    jobs = [omni.create_job(key=stack.config.omni_api_key, queued_s=600) for _ in range(3)]
    for i, job in enumerate(jobs):
        slack_user = Requester("slack", "U0LOCAL01", workspace="T0LOCAL01")
        task = CancelTask(job, slack_user, ReplyTarget(url=capture.url(f"/kill/{i}")), f"kill-{i}")
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=task.to_json())

    before = len(source.failed_batches)
    polling = threading.Thread(target=source.poll_once)
    polling.start()
    while polling.is_alive() and not worker.kill_busy():  # dies while starting up with the batch in hand
        polling.join(0.01)
    polling.join()
    [handles] = source.failed_batches[before:]
    assert len(handles) == 3 and not capture.wait_for("/kill/0", timeout=0.5)
    for handle in handles:  # nothing was deleted; the visibility timeout (6 minutes, as deployed) passes now
        sqs.change_message_visibility(QueueUrl=stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    source.start()
    for i, job in enumerate(jobs):
        assert capture.wait_for(f"/kill/{i}", timeout=90), f"task {i} was lost"
        assert omni.job_state(job) == "CANCELLED"
    assert len({p["path"] for p in capture.posts if p["path"].startswith("/kill/")}) == 3
