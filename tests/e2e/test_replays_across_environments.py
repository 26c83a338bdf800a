"""A captured request acts once, whichever and however many execution environments it reaches: copies
of one signed Slack command, one button click and one webhook delivery, sent at the same moment to
several warm relay environments of the local stack, make one Omni cancel; every other copy is refused
(Slack commands: 401 replayed_request, whatever whitespace was added around the signature) or answered
without acting."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.signers.slack import button_click, slash_command
from tools.signers.webhooks import delivery

COPIES = 4  # the relay environments kept warm, one copy each
TEAM = "T0REPLAY1"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config(max_instances=COPIES)) as running:
        # Several warm environments: as many commands at once as there are copies, each a cold start.
        at_once(lambda i: post(running, "/slack/commands", *slash_command("help", team_id=TEAM)), COPIES)
        assert running.pools["RelayFunction"].cold_starts == COPIES
        yield running


def post(stack: LocalStack, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    response = urllib3.request("POST", stack.url + path, headers=headers, body=body, timeout=20, retries=False)
    return response.status, json.loads(response.data or b"{}")


def at_once(send: Callable[[int], tuple[int, dict[str, Any]]], count: int) -> list[tuple[int, dict[str, Any]]]:
    """`send(i)` for each i, in threads released together."""
    ready = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(i: int) -> None:
        ready.wait()
        answers[i] = send(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def cancels_of(stack: LocalStack, job: str) -> int:
    assert stack.omni is not None
    return sum(1 for call in stack.omni.cancel_calls() if call.get("job") == job)


def new_job(stack: LocalStack) -> str:
    assert stack.omni is not None
    # Omni takes half a second to answer: every copy that reaches it holds its environment meanwhile.
    stack.omni.set_faults(latency_s=0.5)
    return stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)


def test_copies_of_one_captured_slack_command_make_one_cancel(stack: LocalStack):
    job = new_job(stack)
    assert stack.capture is not None
    headers, body = slash_command(job, team_id=TEAM, response_url=stack.capture.url("/replayed-command"))
    # The same captured request; some copies with whitespace added around the signature (Slack's own
    # verification, and the relay's, strip it).
    padded = ["", " ", "\t", " \t "]
    copies = [{**headers, "X-Slack-Signature": headers["X-Slack-Signature"] + padded[i % 4]} for i in range(COPIES)]
    answers = at_once(lambda i: post(stack, "/slack/commands", copies[i], body), COPIES)
    print(f"\n{COPIES} concurrent copies of one Slack command: {cancels_of(stack, job)} Omni cancel(s), "
          f"answers {sorted(Counter(status for status, _ in answers).items())}")  # fmt: skip
    assert cancels_of(stack, job) == 1
    assert sorted(status for status, _ in answers) == [200] + [401] * (COPIES - 1)
    assert {reply["error"] for status, reply in answers if status == 401} == {"replayed_request"}


def test_copies_of_one_button_click_make_one_cancel_and_one_post(stack: LocalStack):
    job = new_job(stack)
    assert stack.capture is not None
    path = f"/replayed-button/{job}"
    headers, body = button_click(job, team_id=TEAM, response_url=stack.capture.url(path))
    answers = at_once(lambda i: post(stack, "/slack/interactions", headers, body), COPIES)
    assert [status for status, _ in answers] == [200] * COPIES  # Slack shows anything else as an error
    assert cancels_of(stack, job) == 1
    assert len(stack.capture.wait_for(path, timeout=5, count=2)) == 1  # the message is replaced once


def test_copies_of_one_webhook_delivery_make_one_cancel(stack: LocalStack):
    job = new_job(stack)
    headers, body = delivery("github", job)
    answers = at_once(lambda i: post(stack, "/webhooks/github", headers, body), COPIES)
    assert all(status < 500 for status, _ in answers), answers
    assert cancels_of(stack, job) == 1
    outcomes = Counter(reply.get("outcome") for _, reply in answers)
    assert outcomes["cancelled"] >= 1 and set(outcomes) <= {"cancelled", "in_progress"}, outcomes
