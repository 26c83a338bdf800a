"""Omni's budget per key, cancels first (omni_budget.py over sliding_window.py), the per-sender limit
counted across environments, repeated cancels answered from the relay's record, one follow-up chain per
job. Two Runtimes sharing one window stand for two execution environments sharing the table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

import relay_app
import worker_app
from local.cloud.gateway import LambdaContext
from omni_relay.adapters.job_records import LocalJobRecords
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.omni_budget import Kind, OmniBudget, key_id, reserve
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.adapters.sliding_window import LocalWindow, decide
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import WindowUnavailable
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe, RecordingHttp
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, make_settings
from tools.signers.events import slack_event, task_event

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


# Not tests.fakes.MemoryQueue: a retry fails the test (a held-back cancel is sent again, not retried).
@dataclass
class Queue:
    sent: list[tuple[CancelTask, int]] = field(default_factory=list)

    def send(self, task: CancelTask, delay_s: int = 0) -> None:
        self.sent.append((task, delay_s))

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        raise AssertionError("a held-back cancel is queued again, not retried as an attempt")


def command(runtime: Runtime, text: str = JOB, user: str = "U0LOCAL01", at: int = NOW, url: str = "x") -> str:
    event = slack_event(
        "/slack/commands",
        text,
        secret=SIGNING_SECRET,
        timestamp=at,
        user_id=user,
        team_id="T0LOCAL01",
        response_url=f"https://hooks.slack.com/commands/T0LOCAL01/1/{url}",
    )
    with in_use(runtime):
        reply = json.loads(relay_app.lambda_handler(event, LambdaContext())["body"])
    return " ".join(b["text"]["text"] for b in reply.get("blocks", []) if b["type"] == "section") or reply["text"]


def environment(secrets: FakeSecretStore, omni: FakeOmni, budget: LocalWindow, **shared: Any) -> Runtime:
    settings = make_settings(CANCEL_QUEUE_URL="q", **shared.pop("env", {}))
    return Runtime(
        settings,
        secrets,
        omni,
        queue=shared.pop("queue", Queue()),
        postback=PostBack(AllowedHosts.parse(), http=RecordingHttp()),
        dedupe=MemoryDedupe(),
        budget=budget,
        now=lambda: NOW,
        **shared,
    )


def test_a_sliding_minute_never_holds_more_than_the_limit():
    ring = [0.0] * 3
    for at in (100.0, 101.0, 102.0):
        slot, wait = decide(ring, at)
        ring[slot] = at
    assert decide(ring, 130.0) == (-1, 30.0)  # full until the first call is a minute old
    assert decide(ring, 160.0)[1] == 0.0
    assert decide([0.0, 0.0, 150.0], 160.0, reserve=2) == (-1, 50.0)  # two must stay free


def test_cancels_may_spend_the_whole_budget_the_other_kinds_only_what_they_leave():
    now = [1000.0]
    budget = OmniBudget(LocalWindow(6, lambda: now[0]))
    assert {kind: reserve(kind, 6) for kind in Kind} == {Kind.CANCEL: 0, Kind.POLL: 1, Kind.STATUS: 2, Kind.DETAILS: 4}
    assert [budget.take(Kind.DETAILS, "k"), budget.take(Kind.DETAILS, "k")] == [0.0, 0.0]
    assert budget.take(Kind.DETAILS, "k") > 0  # two thirds must stay free for the others
    assert [budget.take(Kind.STATUS, "k"), budget.take(Kind.STATUS, "k")] == [0.0, 0.0]
    assert budget.take(Kind.STATUS, "k") > 0  # a third kept for polls and cancels
    assert budget.take(Kind.POLL, "k") == 0.0 and budget.take(Kind.POLL, "k") > 0  # a sixth kept for cancels
    assert budget.take(Kind.CANCEL, "k") == 0.0
    assert budget.take(Kind.CANCEL, "k") == 60.0  # the key's limit: none more in this minute
    assert budget.take(Kind.CANCEL, "another key") == 0.0  # Omni counts per key
    now[0] += 60
    assert budget.take(Kind.CANCEL, "k") == 0.0


def test_the_budget_is_named_by_a_digest_never_the_key():
    assert OMNI_KEY not in key_id(OMNI_KEY) and len(key_id(OMNI_KEY)) == 20


class Unreachable:
    limit = 60

    def take(self, name: str, reserve: int = 0) -> float:
        raise WindowUnavailable("ResourceNotFoundException")


def test_without_its_table_the_budget_fails_open_for_cancels_and_closed_for_the_rest():
    budget = OmniBudget(Unreachable())  # type: ignore[arg-type]
    assert budget.take(Kind.CANCEL, "k") == 0.0
    assert [budget.take(kind, "k") for kind in (Kind.STATUS, Kind.POLL, Kind.DETAILS)] == [60.0, 60.0, 60.0]


def test_a_cancel_the_budget_holds_back_goes_to_the_worker_and_says_when(secrets: FakeSecretStore, omni: FakeOmni):
    window = LocalWindow(3, lambda: NOW)
    for _ in range(3):
        window.take(key_id(OMNI_KEY))  # other environments spent this minute
    queue = Queue()
    said = command(environment(secrets, omni, window, queue=queue))
    assert "I will send this one in about 60 s and post the result here" in said, said
    assert omni.calls == []  # Omni was not called
    [(task, delay)] = queue.sent
    assert task.job_id == JOB and task.follow is None and delay == 60


def test_the_worker_queues_a_held_back_cancel_again_without_spending_an_attempt(
    secrets: FakeSecretStore, omni: FakeOmni, use_runtime
):
    window = LocalWindow(3, lambda: NOW)
    for _ in range(3):
        window.take(key_id(OMNI_KEY))
    queue = Queue()
    runtime = environment(secrets, omni, window, queue=queue)
    task = CancelTask.from_json(
        json.dumps(
            {
                "job_id": JOB,
                "requester": {"source": "slack", "user_id": "U0LOCAL01", "scope": "C1", "workspace": "T0LOCAL01"},
                "reply": {"url": "https://hooks.slack.com/commands/T0LOCAL01/1/x"},
                "request_id": "r1",
            }
        )
    )
    use_runtime(runtime)
    result = worker_app.lambda_handler(task_event(task.to_json(), receive_count=4), LambdaContext())
    assert result == {"batchItemFailures": []} and omni.calls == []  # done with this delivery
    [(again, delay)] = queue.sent
    assert again.job_id == JOB and delay == 60  # a new task, sent when the budget has room


def test_the_per_sender_limit_counts_across_environments(secrets: FakeSecretStore):
    omni = FakeOmni()
    senders = LocalWindow(2, lambda: NOW)  # the table both environments count in
    budget = LocalWindow(60, lambda: NOW)
    env = {"SENDER_RATE_LIMIT_PER_MIN": "2"}
    one, two = (environment(secrets, omni, budget, sender_limit=senders, env=env) for _ in range(2))
    jobs = [f"3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f0{i}" for i in range(4)]
    said = [
        command(runtime, job, "U0ATTACKER", NOW - i)
        for i, (runtime, job) in enumerate(zip([one, two] * 2, jobs, strict=True))
    ]
    assert [("faster than this relay allows" in text) for text in said] == [False, False, True, True]
    assert len(omni.cancels) == 2
    assert "faster than" not in command(two, jobs[3], "U0SOMEONE", NOW - 9)  # another person is not limited


def test_a_repeated_cancel_is_answered_from_the_record_in_any_environment(secrets: FakeSecretStore):
    omni = FakeOmni(lambda op, job, token: OmniReply(200, {"jobId": job, "state": "COMPLETE"}))
    records, budget = LocalJobRecords(lambda: NOW), LocalWindow(60, lambda: NOW)
    one, two = (environment(secrets, omni, budget, records=records) for _ in range(2))
    assert "had already finished (COMPLETE)" in command(one, JOB, "U0ONE0001", NOW)
    assert "had already finished (COMPLETE)" in command(two, JOB, "U0TWO0001", NOW - 1)
    assert len(omni.cancels) == 1  # the second environment asked the record, not Omni


@pytest.mark.parametrize("cancels", [2, 5])
def test_a_job_cancelled_again_while_it_is_followed_joins_the_one_chain(secrets: FakeSecretStore, cancels: int):
    omni = FakeOmni(lambda op, job, token: OmniReply(200, {"jobId": job, "state": "EXECUTING"}))
    queue, records, budget = Queue(), LocalJobRecords(lambda: NOW), LocalWindow(60, lambda: NOW)
    runtime = environment(secrets, omni, budget, queue=queue, records=records)
    said = [command(runtime, JOB, f"U0CHAIN{i:02d}", NOW - i, url=f"c{i}") for i in range(cancels)]
    assert all("I will say here when it has stopped" in text for text in said)
    chains = [task for task, _ in queue.sent if task.follow is not None]  # not the owner's notices
    assert len(chains) == 1 and len(omni.cancels) == 1  # one chain, one cancel sent to Omni
    [first] = chains
    # The chain's end tells every requester, once each, and a later cancel starts a new chain.
    assert [t.reply.url[-2:] for t in runtime.following.waiting_on(first)] == [f"c{i}" for i in range(cancels)]
    assert runtime.records.join(JOB, first.to_json(), 60) is True


def test_the_same_cancel_sent_at_once_from_two_environments_reaches_omni_once(secrets: FakeSecretStore):
    import threading
    import time

    def slow_finished(op: str, job: str, token: str) -> OmniReply:
        time.sleep(0.3)  # Omni takes a moment: the second cancel arrives meanwhile
        return OmniReply(200, {"jobId": job, "state": "COMPLETE"})

    omni = FakeOmni(slow_finished)
    records, budget = LocalJobRecords(), LocalWindow(60)
    one, two = (environment(secrets, omni, budget, records=records) for _ in range(2))
    said: dict[str, str] = {}
    first = threading.Thread(target=lambda: said.update(one=command(one, JOB, "U0ONE0001", NOW)))
    first.start()
    time.sleep(0.1)
    said["two"] = command(two, JOB, "U0TWO0001", NOW - 1)
    first.join()
    assert "had already finished (COMPLETE)" in said["one"] and "had already finished (COMPLETE)" in said["two"]
    assert len(omni.cancels) == 1  # the second waited for the first's answer instead of asking Omni too
