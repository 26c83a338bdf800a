"""Closing the loop over the local stack: a Slack cancel of an executing job is answered "stop
requested", the worker follows the job through the template's queue (SQS delays) and replaces that
message with the final state, exactly once, also when the worker dies in the middle of a poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import comments_about, stack_config
from tools.send import as_slack_shows, post_command


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config(params={"GithubAllowed": "*"})) as running:
        yield running


def posts_to(stack: LocalStack, path: str) -> list[dict]:
    assert stack.capture is not None
    return [p for p in stack.capture.posts if p["path"] == path]


def test_an_executing_job_is_followed_until_it_stopped_and_the_message_replaced_once(stack: LocalStack):
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    job = omni.create_job(key=stack.config.omni_api_key, pinned="EXECUTING", iteration_s=3, prompt="Revenue by region")
    status, payload = post_command(stack.url, job, response_url=capture.url("/follow"))
    shown = as_slack_shows(status, payload)
    assert status == 200 and "I will say here when it has stopped" in shown and "Revenue by region" in shown
    [final] = capture.wait_for("/follow", timeout=40)
    assert final["replace_original"] is True
    assert f"Job {job} stopped: CANCELLED" in final["text"]
    assert omni.job_state(job) == "CANCELLED"
    time.sleep(6)  # the next poll would have come by now: there is none
    assert len(posts_to(stack, "/follow")) == 1


def test_a_github_cancel_of_an_executing_job_ends_with_one_final_comment(stack: LocalStack):
    from tools.send import post_webhook

    omni = stack.omni
    assert omni is not None
    job = omni.create_job(key=stack.config.omni_api_key, pinned="EXECUTING", iteration_s=3)
    status, reply = post_webhook(stack.url, "github", job)
    assert status == 200 and reply["outcome"] == "stopping"
    path = "/github/repos/acme/data-platform/issues/42/comments"
    assert comments_about(stack, path, f"Job {job} stopped: CANCELLED", timeout=40)
    time.sleep(6)
    assert len(comments_about(stack, path, f"Job {job} stopped: CANCELLED", timeout=0.1)) == 1


def test_a_worker_killed_mid_poll_still_ends_with_exactly_one_final_message(stack: LocalStack):
    omni, capture = stack.omni, stack.capture
    assert omni is not None and capture is not None
    [source] = stack.sources
    worker = stack.pools["WorkerFunction"]
    source.stop()  # the event source steps aside so the test can hand the poll to a worker and kill it
    try:
        job = omni.create_job(key=stack.config.omni_api_key, pinned="EXECUTING", iteration_s=2)
        status, payload = post_command(stack.url, job, response_url=capture.url("/killed"))
        assert "I will say here when it has stopped" in as_slack_shows(status, payload)
        time.sleep(5.5)  # the first poll's DelaySeconds
        omni.set_faults(latency_s=3)  # the poll is in Omni's hands when the worker dies
        before = len(source.failed_batches)
        polling = threading.Thread(target=source.poll_once)
        polling.start()
        killed = 0
        while polling.is_alive() and not killed:
            killed = worker.kill_busy()
            polling.join(0.05)
        polling.join()
        assert killed and not capture.wait_for("/killed", timeout=0.5)
        [handles] = source.failed_batches[before:]
        omni.set_faults()
        sqs = stack.aws("sqs")
        for handle in handles:  # nothing was deleted; the visibility timeout (6 minutes, as deployed) passes now
            sqs.change_message_visibility(QueueUrl=stack.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    finally:
        omni.set_faults()
        source.start()
    [final] = capture.wait_for("/killed", timeout=60)
    assert f"Job {job} stopped: CANCELLED" in final["text"] and final["replace_original"] is True
    time.sleep(6)
    assert len(posts_to(stack, "/killed")) == 1
