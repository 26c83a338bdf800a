"""Fifty executing jobs cancelled at once while twenty people ask for `status`, followed until each
has stopped: every requester told once, and Omni's 60 requests a minute per key never exceeded (no
429), cancels first. The relay's core and the worker's handler in-process against the Omni emulator
over HTTP, on an emulated clock that the SQS delays, Omni's budget and Omni's rate window all share;
the budget's and the job records' DynamoDB items are checked against moto server (as every
environment shares them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3

import worker_app
from local.cloud.gateway import LambdaContext
from local.cloud.lambda_runtime import free_port
from local.standins.omni_emulator import OmniEmulator
from omni_relay.adapters.job_records import DynamoJobRecords
from omni_relay.adapters.omni import OmniClient
from omni_relay.adapters.omni_budget import Kind, OmniBudget, key_id, reserve
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.adapters.sliding_window import DynamoWindow, LocalWindow
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import CancelRequest, Outcome, ReplyTarget
from omni_relay.domain.tasks import CancelTask
from omni_relay.settings import Settings
from omni_relay.usecases.cancelling import cancel_or_hand_off
from omni_relay.wiring import Runtime
from tests.fakes import FakeSecretStore, MemoryDedupe, RecordingHttp
from tests.integration.conftest import ORG_KEY, point_aws_at
from tools.signers.events import task_event

JOBS = 50
LOOKERS = 20
LIMIT = 60


# Not tests.fakes.MemoryQueue: tasks come due on the emulated clock, and a retry fails the test.
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
        batch = task_event(*(task.to_json() for task in tasks[start : start + 5]))
        result = worker_app.lambda_handler(batch, LambdaContext())
        assert result == {"batchItemFailures": []}


@pytest.fixture
def omni() -> Iterator[OmniEmulator]:
    with OmniEmulator() as emulator:
        emulator.add_key(ORG_KEY)
        emulator.state.clock.set_speed(0)  # time moves only when the test says
        yield emulator


def test_fifty_executing_jobs_and_twenty_status_reads_stay_within_omnis_limit_cancels_first(
    omni: OmniEmulator, use_runtime
):
    clock = omni.state.clock

    def now() -> float:
        return clock.epoch + clock.now()

    settings = Settings.from_env(
        {
            "OMNI_BASE_URL": omni.base_url,
            "OMNI_SECRET_ID": "omni",
            "SLACK_SECRET_ID": "slack",
            "SLACK_ALLOWED_TEAMS": "T0BURST01",
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
        budget=LocalWindow(LIMIT, now),
        now=now,
    )
    jobs = [omni.create_job(key=ORG_KEY, queued_s=0, executing_s=3600, iteration_s=25) for _ in range(JOBS)]
    url = "https://hooks.slack.com/commands/T0BURST01/{}/x"
    first, looked = [], []
    for i, job in enumerate(jobs):
        asked = CancelRequest(job, Requester("slack", f"U{i:04d}", "C0BURST01", "T0BURST01"))
        first.append(
            cancel_or_hand_off(
                runtime, asked, Deadline.within(2.5), reply=ReplyTarget(url.format(i)), request_id=f"r{i}"
            )
        )
        if i % 2 and len(looked) < LOOKERS:  # the status reads come in among the cancels
            looker = CancelRequest(jobs[i // 2], Requester("slack", f"U9{i:03d}", "C0BURST01", "T0BURST01"))
            looked.append(runtime.authorized.status(looker, Deadline.within(2.5)))
    # 50 cancels, their details and 20 reads do not fit in 60: the reads and details took only what cancels
    # left (stopping at a third and two thirds free), and the cancels the budget held back went to the
    # worker with the time they will be sent, none refused.
    stopping = [o for o in first if o.kind is Outcome.STOPPING]
    held = [o for o in first if o.kind is Outcome.PENDING]
    assert len(stopping) + len(held) == JOBS and all(o.following for o in stopping)
    assert len(stopping) >= LIMIT - reserve(Kind.STATUS, LIMIT) and all(0 < o.retry_after_s <= 60 for o in held)
    assert {o.kind for o in looked} == {Outcome.STATUS, Outcome.OMNI_BUSY}
    assert all(o.retry_after_s for o in looked if o.kind is Outcome.OMNI_BUSY)
    cancelled_at = clock.now()

    use_runtime(runtime)
    for _ in range(int(settings.follow_up_minutes * 60)):
        clock.advance(1)
        deliver(queue.due())
        if not queue.waiting:
            break

    finals = {r["url"]: r["body"]["text"] for r in http.requests}  # each requester's last message
    assert set(finals) == {url.format(i) for i in range(JOBS)}
    assert all("stopped: CANCELLED" in text for text in finals.values())
    said = Counter(r["url"] for r in http.requests if "stopped: CANCELLED" in r["body"]["text"])
    assert set(said.values()) == {1}  # told once
    assert {omni.job_state(job) for job in jobs} == {"CANCELLED"}

    log = omni.state.log
    assert not [e for e in log if e["op"] == "limited"]  # Omni never answered 429
    polls = [e["at"] for e in log if e["op"] == "status" and e["at"] > cancelled_at]
    assert len(polls) >= JOBS
    # Polls leave a third of any minute to cancels; all calls together never exceed the key's limit.
    assert busiest_minute(polls) <= LIMIT - reserve(Kind.POLL, LIMIT)
    assert busiest_minute([e["at"] for e in log]) <= LIMIT


def busiest_minute(times: list[float]) -> int:
    """The most of `times` in any 60 s (a sliding minute, as Omni's own count)."""
    times = sorted(times)
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    point_aws_at(monkeypatch, f"http://127.0.0.1:{port}")
    urllib3.request("POST", f"http://127.0.0.1:{port}/moto-api/reset", timeout=5)  # moto's state is per process
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield "idempotency"
    moto.stop()


def test_the_budget_is_one_sliding_minute_for_every_environment_cancels_first(table: str):
    at = [1_800_000_000.0]
    relay, worker = (OmniBudget(DynamoWindow(table, "omni-budget", 6, lambda: at[0])) for _ in range(2))
    # Two environments, one key: status reads stop while a third (2) is left, cancels take the rest.
    # (A reserve is judged on a ring read at most 0.25 s before: here each look is 2 s after the last.)
    assert [relay.take(Kind.STATUS, "k"), worker.take(Kind.STATUS, "k")] == [0.0, 0.0]
    at[0] += 2
    assert [worker.take(Kind.CANCEL, "k"), relay.take(Kind.STATUS, "k")] == [0.0, 0.0]
    at[0] += 2
    assert relay.take(Kind.STATUS, "k") == 56.0  # two left: kept for cancels, until the first read is a minute old
    assert relay.take(Kind.DETAILS, "k") > 0  # details need two thirds free
    assert [relay.take(Kind.CANCEL, "k"), worker.take(Kind.CANCEL, "k")] == [0.0, 0.0]
    assert worker.take(Kind.CANCEL, "k") == 56.0  # six in the last minute: none more, from any environment
    assert relay.take(Kind.CANCEL, "another key") == 0.0  # each key its own budget
    at[0] += 56
    assert relay.take(Kind.CANCEL, "k") == 0.0  # a sliding minute: the oldest call has aged out
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert {i["id"]["S"] for i in items} == {f"omni-budget#6#{key_id(k)}" for k in ("k", "another key")}
    assert all("expiration" in i for i in items)  # expires with the table's TTL once unused


def test_the_per_sender_window_and_job_records_are_shared_by_environments(table: str):
    at = [1_800_000_000.0]
    one, two = (DynamoWindow(table, "sender", 2, lambda: at[0]) for _ in range(2))
    assert [one.take("slack:T1:U1"), two.take("slack:T1:U1"), one.take("slack:T1:U1")] == [0.0, 0.0, 60.0]
    assert two.take("slack:T1:U2") == 0.0

    from omni_relay.domain.model import CancelOutcome, JobDetails, JobState

    records = [DynamoJobRecords(table, lambda: at[0]) for _ in range(2)]
    done = CancelOutcome("j1", Outcome.CANCELLED, JobState.CANCELLED, job=JobDetails(prompt="p"), at=at[0])
    records[0].remember(done, "key-a")
    kept = records[1].recent("j1", "key-a")
    assert kept is not None and kept.kind is Outcome.ALREADY_CANCELLED and kept.job is not None
    assert kept.job.prompt == "p" and kept.job.cancelled_at == at[0]
    assert records[1].recent("j1", "key-b") is None  # another key's answer is Omni's to give
    at[0] += 301
    assert records[1].recent("j1", "key-a") is None  # only for the last minutes

    assert records[0].join("j2", '{"a": 1}', 600) is True  # the first starts the chain
    assert records[1].join("j2", '{"b": 2}', 600) is False  # the second joins it
    assert records[1].followers("j2") == ['{"a": 1}', '{"b": 2}']
    assert records[0].followers("j2") == [] and records[0].join("j2", '{"c": 3}', 600) is True
