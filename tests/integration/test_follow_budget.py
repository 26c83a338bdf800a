"""Fifty executing jobs cancelled at once, followed until each has stopped: every requester told
once, and Omni's 60 requests a minute per key never spent by the relay's own reads. The relay's
core and the worker's handler in-process against the Omni emulator over HTTP, on an emulated clock
that the SQS delays, the poll budget and Omni's rate window all share; the poll budget's DynamoDB
counter is checked against moto server."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import worker_app
from local.gateway import LambdaContext
from local.lambda_runtime import free_port
from local.omni_emulator import OmniEmulator
from omni_relay import wiring
from omni_relay.cancelling import cancel_or_hand_off
from omni_relay.deadline import Deadline
from omni_relay.domain import CancelRequest, Outcome, ReplyTarget
from omni_relay.handoff import CancelTask
from omni_relay.identity import Requester
from omni_relay.omni import OmniClient
from omni_relay.poll_budget import WINDOW_S, DynamoPollBudget, LocalPollBudget
from omni_relay.postback import AllowedHosts, PostBack
from omni_relay.settings import Settings
from omni_relay.wiring import Runtime
from tests.fakes import FakeSecretStore, MemoryDedupe, RecordingHttp
from tests.integration.conftest import ORG_KEY, point_aws_at

JOBS = 50
POLLS_PER_MIN = 20


class DelayQueue:
    """SQS as the worker sees it: a task becomes visible `delay_s` after it was sent, on `clock`."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.waiting: list[tuple[float, int, CancelTask]] = []
        self._sent = 0

    def send(self, task: CancelTask, delay_s: int = 0) -> None:
        self._sent += 1
        self.waiting.append((self.clock() + delay_s, self._sent, task))

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        raise AssertionError("follow-ups never retry through visibility")

    def due(self) -> list[CancelTask]:
        now = self.clock()
        ready = sorted(w for w in self.waiting if w[0] <= now)
        self.waiting = [w for w in self.waiting if w[0] > now]
        return [task for _, _, task in ready]


def deliver(tasks: list[CancelTask]) -> None:
    for start in range(0, len(tasks), 5):  # the event source's BatchSize
        records = [
            {
                "messageId": f"m{start + i}",
                "receiptHandle": "r",
                "body": task.to_json(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for i, task in enumerate(tasks[start : start + 5])
        ]
        result = worker_app.lambda_handler({"Records": records}, LambdaContext())
        assert result == {"batchItemFailures": []}


@pytest.fixture
def omni() -> Iterator[OmniEmulator]:
    with OmniEmulator() as emulator:
        emulator.add_key(ORG_KEY)
        emulator.state.clock.set_speed(0)  # time moves only when the test says
        yield emulator


def test_fifty_executing_jobs_are_each_reported_stopped_once_within_omnis_limit(omni: OmniEmulator):
    clock = omni.state.clock

    def now() -> float:
        return clock.epoch + clock.now()

    settings = Settings.from_env(
        {
            "OMNI_BASE_URL": omni.base_url,
            "OMNI_SECRET_ID": "omni",
            "SLACK_SECRET_ID": "slack",
            "SLACK_ALLOWED_TEAMS": "T0BURST01",
            "FOLLOW_UP_POLLS_PER_MIN": str(POLLS_PER_MIN),
        }
    )
    queue, http = DelayQueue(now), RecordingHttp()
    runtime = Runtime(
        settings,
        FakeSecretStore({"omni": {"api_key": ORG_KEY}}),
        OmniClient(omni.base_url, max_attempts=1),
        queue=queue,
        postback=PostBack(AllowedHosts.parse(), http=http),
        dedupe=MemoryDedupe(),
        poll_budget=LocalPollBudget(POLLS_PER_MIN, now),
        now=now,
    )
    jobs = [omni.create_job(key=ORG_KEY, queued_s=0, executing_s=3600, iteration_s=25) for _ in range(JOBS)]
    url = "https://hooks.slack.com/commands/T0BURST01/{}/x"
    first = []
    for i, job in enumerate(jobs):
        asked = CancelRequest(job, Requester("slack", f"U{i:04d}", "C0BURST01", "T0BURST01"))
        first.append(
            cancel_or_hand_off(
                runtime, asked, Deadline.within(2.5), reply=ReplyTarget(url.format(i)), request_id=f"r{i}"
            )
        )
    assert {o.outcome for o in first} == {Outcome.STOPPING} and all(o.following for o in first)
    cancelled_at = clock.now()

    wiring.use(runtime)
    try:
        for _ in range(int(settings.follow_up_minutes * 60)):
            clock.advance(1)
            deliver(queue.due())
            if not queue.waiting:
                break
    finally:
        wiring.use(None)

    finals = Counter(r["url"] for r in http.requests)
    assert finals == Counter(url.format(i) for i in range(JOBS))  # one final message each
    assert all("stopped: CANCELLED" in r["body"]["text"] for r in http.requests)
    assert {omni.job_state(job) for job in jobs} == {"CANCELLED"}

    log = omni.state.log
    assert not [e for e in log if e["op"] == "limited" and e["path"].endswith("/cancel")]  # no cancel refused
    polls = [e for e in log if e["op"] == "status" and e["at"] > cancelled_at]  # not the details read with a cancel
    assert len(polls) >= JOBS
    per_window = Counter(int((clock.epoch + e["at"]) // WINDOW_S) for e in polls)
    assert max(per_window.values()) <= POLLS_PER_MIN, per_window
    refused = Counter(int((clock.epoch + e["at"]) // WINDOW_S) for e in log if e["op"] == "limited")
    assert all(n <= 1 for n in refused.values()), refused  # one refused poll closes the minute for all
    accepted = sorted(e["at"] for e in log if e["op"] in ("cancel", "status"))
    busiest = max(sum(1 for t in accepted if start <= t < start + 60) for start in accepted)
    assert busiest <= 60


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    point_aws_at(monkeypatch, f"http://127.0.0.1:{port}")
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield "idempotency"
    moto.stop()


def test_the_poll_budget_is_one_count_for_every_worker(table: str):
    at = [1_800_000_000.0]
    workers = [DynamoPollBudget(table, 3, lambda: at[0]) for _ in range(2)]
    waits = [workers[i % 2].wait_s() for i in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == waits[4] == 60.0  # the limit holds across both
    at[0] += 60
    assert workers[1].wait_s() == 0.0  # a new minute
    workers[0].exhaust()
    assert workers[1].wait_s() == 60.0 - 0.0  # closed for everyone until the next minute
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"id": {"S": f"omni-poll-budget#{int(at[0] // 60)}"}})
    assert json.dumps(item["Item"]["expiration"])  # expires with the table's TTL
