"""Closing the loop: what is being cancelled, following an executing job until it has stopped, and
looking at a job without cancelling it. The relay and the worker handlers in-process, with fakes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

import relay_app
import worker_app
from local.cloud.gateway import LambdaContext
from omni_relay import wiring
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.domain.tasks import CancelTask
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe, MemoryQueue, RecordingHttp
from tests.unit.conftest import NOW, SIGNING_SECRET, make_settings
from tools.signers.events import slack_event, task_event, webhook_event

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
RESPONSE_URL = "https://hooks.slack.com/commands/T0LOCAL01/1/follow"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Job:
    """The job as Omni's status reports it; tests move it on."""

    state: str = "EXECUTING"
    prompt: str = "Top 10 products by revenue last quarter"
    cancelled_at: float | None = None
    status: int = 200

    def reply(self, op: str) -> OmniReply:
        if op == "cancel":
            return OmniReply(200, {"jobId": JOB, "state": "EXECUTING" if self.state == "EXECUTING" else self.state})
        if self.status != 200:
            return OmniReply(self.status, {"detail": "Job not found"})
        body: dict[str, Any] = {
            "id": JOB,
            "state": self.state,
            "prompt": self.prompt,
            "userId": "990e8400-e29b-41d4-a716-446655440004",
            "createdAt": iso(NOW - 300),
            "omniChatUrl": "https://acme.omniapp.co/chat/660e8400",
        }
        if self.state == "EXECUTING":
            body["progress"] = {"iteration": 3, "message": "Running query", "updatedAt": iso(NOW)}
        if self.cancelled_at is not None:
            body["cancelledAt"], body["cancelledBy"] = iso(self.cancelled_at), "990e8400-e29b-41d4-a716-446655440009"
        return OmniReply(200, body)


@dataclass
class Budget:
    """Omni's budget (sliding_window.Window): answers `wait` to the kinds that leave room for others."""

    wait: float = 0.0
    taken: int = 0
    limit: int = 60

    def take(self, name: str, reserve: int = 0) -> float:
        if reserve and self.wait:
            return self.wait
        self.taken += 1
        return 0.0


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    job: Job
    omni: FakeOmni
    queue: MemoryQueue
    http: RecordingHttp
    budget: Budget
    clock: Clock
    runtime: Runtime

    def slack(self, text: str) -> dict[str, Any]:
        event = slack_event("/slack/commands", text, secret=SIGNING_SECRET, timestamp=NOW, response_url=RESPONSE_URL)
        result = relay_app.lambda_handler(event, LambdaContext())
        assert result["statusCode"] == 200
        return json.loads(result["body"])

    def deliver(self, task: CancelTask, receive_count: int = 1) -> dict[str, Any]:
        return dict(worker_app.lambda_handler(task_event(task.to_json(), receive_count=receive_count), LambdaContext()))

    def rebuild(self, **changes: Any) -> None:
        """The same world with another Runtime (its settings or queue changed), in use from now on."""
        was = self.runtime
        self.runtime = Runtime(
            changes.get("settings", was.settings),
            was.secrets,
            self.omni,
            queue=changes.get("queue", was.handoff.queue),
            postback=was.postback,
            dedupe=was.dedupe,
            budget=self.budget,
            now=self.clock,
        )
        wiring.use(self.runtime)

    def next_task(self) -> tuple[CancelTask, int]:
        return self.queue.sent.pop(0)

    def posts(self, url: str = RESPONSE_URL) -> list[dict[str, Any]]:
        return [r["body"] for r in self.http.requests if r["url"] == url]


@pytest.fixture
def world(secrets: FakeSecretStore, use_runtime) -> Any:
    job = Job()
    omni = FakeOmni(lambda op, job_id, token: job.reply(op))
    queue, http, budget, clock = MemoryQueue(), RecordingHttp(), Budget(), Clock()
    secrets.values["webhooks"] = {"github": {"secrets": ["gh-secret-0123456789abcdef"], "api_token": "ghp_unit"}}
    # The owner's notice is a task of its own (tests/unit/test_audit.py): here, only the follow's tasks.
    settings = make_settings(
        WEBHOOK_SECRET_ID="webhooks", GITHUB_ALLOWED="*", CANCEL_QUEUE_URL="q", NOTIFY_OWNER="false"
    )
    runtime = Runtime(
        settings,
        secrets,
        omni,
        queue=queue,
        postback=PostBack(AllowedHosts.parse(), http=http),
        dedupe=MemoryDedupe(),
        budget=budget,
        now=clock,
    )
    use_runtime(runtime)
    return World(job, omni, queue, http, budget, clock, runtime)


def section_text(message: dict[str, Any]) -> str:
    return " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_an_executing_job_is_followed_until_it_stops_and_the_message_replaced_once(world: World):
    reply = world.slack(JOB)
    assert "I will say here when it has stopped" in section_text(reply)
    assert "Top 10 products by revenue" in json.dumps(reply["blocks"])  # what is being cancelled
    task, delay = world.next_task()
    assert (task.follow is not None, delay) == (True, 5)

    world.clock.now += 5
    world.deliver(task)  # still executing: the next poll is queued, later
    assert world.posts() == []
    task, delay = world.next_task()
    assert task.follow is not None and (task.follow.poll, delay) == (2, 10)

    world.clock.now += 10
    world.job.state, world.job.cancelled_at = "CANCELLED", NOW + 12
    world.deliver(task)
    world.deliver(task, receive_count=2)  # SQS delivers it again: said once
    [final] = world.posts()
    assert final["replace_original"] is True
    assert f"Job `{JOB}` stopped: CANCELLED, 12 s after the request." in section_text(final)
    assert world.queue.sent == [] and world.omni.cancels == [("cancel", JOB, world.omni.calls[0][2])]


def test_a_job_that_finishes_before_it_can_stop_says_so(world: World):
    world.slack(JOB)
    task, _ = world.next_task()
    world.job.state = "COMPLETE"
    world.deliver(task)
    [final] = world.posts()
    assert "finished before it could stop: COMPLETE" in section_text(final)


def test_following_stops_at_the_cap_with_a_link_to_the_job(world: World):
    world.slack(JOB)
    task, _ = world.next_task()
    world.clock.now += world.runtime.following.follow_up_s
    world.deliver(task)
    [final] = world.posts()
    assert "still running 10 minutes after the cancel was requested" in section_text(final)
    links = [e.get("url") for b in final["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "https://acme.omniapp.co/chat/660e8400" in links
    assert world.queue.sent == []


def test_a_poll_over_the_budget_waits_for_the_next_minute_without_calling_omni(world: World):
    world.slack(JOB)
    task, _ = world.next_task()
    calls = len(world.omni.calls)
    world.budget.wait = 42.0
    world.deliver(task)
    deferred, delay = world.next_task()
    assert len(world.omni.calls) == calls and world.posts() == []
    assert deferred.follow is not None and (deferred.follow.poll, deferred.follow.deferred) == (1, 1)
    assert 42 <= delay <= 52


def test_a_job_omni_no_longer_knows_ends_the_follow_with_one_message(world: World):
    world.slack(JOB)
    task, _ = world.next_task()
    world.job.status = 404
    world.deliver(task)
    [final] = world.posts()
    assert "No job" in section_text(final) and world.queue.sent == []


def test_a_github_cancel_is_followed_and_the_final_comment_posted_once(world: World):
    event = webhook_event("github", JOB, timestamp=NOW, secret="gh-secret-0123456789abcdef")
    result = relay_app.lambda_handler(event, LambdaContext())
    body = json.loads(result["body"])
    assert body["outcome"] == "stopping" and "I will say here when it has stopped" in body["message"]
    comments = "https://api.github.com/repos/acme/data-platform/issues/42/comments"
    world.http.requests.clear()
    task, _ = world.next_task()
    world.clock.now += 10
    world.job.state, world.job.cancelled_at = "CANCELLED", NOW + 7
    world.deliver(task)
    world.deliver(task, receive_count=2)
    [comment] = world.posts(comments)
    assert f"Job {JOB} stopped: CANCELLED, 7 s after the request." in comment["body"]


def test_status_looks_without_cancelling_and_offers_a_confirmed_cancel(world: World):
    reply = world.slack(f"status {JOB}")
    assert world.omni.cancels == [] and [c[0] for c in world.omni.calls] == ["status"]
    assert f"Job `{JOB}` is EXECUTING." in section_text(reply)
    shown = json.dumps(reply["blocks"])
    assert "Top 10 products by revenue" in shown and "step 3: Running query" in shown and "5 minutes ago" in shown
    [actions] = [b for b in reply["blocks"] if b["type"] == "actions"]
    cancel, check, link = actions["elements"]
    assert cancel["action_id"] == "omni_cancel_job" and cancel["confirm"]["confirm"]["text"] == "Cancel job"
    assert check["action_id"] == "omni_check_job" and link["url"] == "https://acme.omniapp.co/chat/660e8400"
    assert world.queue.sent == []


def test_status_in_a_webhook_comment_is_read_only_too(world: World):
    secret = "gh-secret-0123456789abcdef"
    event = webhook_event("github", JOB, timestamp=NOW, secret=secret, text=f"/omni-cancel status {JOB}")
    body = json.loads(relay_app.lambda_handler(event, LambdaContext())["body"])
    assert body["outcome"] == "status" and body["state"] == "EXECUTING" and world.omni.cancels == []
    assert body["job"]["prompt"].startswith("Top 10 products")


def test_help_lists_status(world: World):
    assert "status" in section_text(world.slack("help"))


def test_an_already_cancelled_job_says_when_and_by_whom(world: World):
    world.job.state, world.job.cancelled_at = "CANCELLED", NOW - 180
    reply = world.slack(JOB)
    text = section_text(reply)
    assert "was already cancelled 3 minutes ago by Omni user 990e8400-e29b-41d4-a716-446655440009" in text
    assert "Cancelled Omni AI job" not in text and world.queue.sent == []


def test_with_too_little_time_left_the_cancel_answers_without_details(world: World):
    world.rebuild(settings=make_settings(SLACK_DEADLINE_MS="600", DEADLINE_MARGIN_MS="300"))
    world.slack(JOB)
    assert [c[0] for c in world.omni.calls] == ["cancel"]


def test_without_a_queue_nothing_is_promised(world: World):
    world.rebuild(queue=None)
    reply = world.slack(JOB)
    assert "Check again in a few seconds" in section_text(reply)


def test_a_follow_deferred_past_the_cap_says_still_running_without_polling(world: World):
    world.slack(JOB)
    task, _ = world.next_task()
    world.clock.now += world.runtime.following.follow_up_s + 600  # the poll budget kept it waiting
    calls = len(world.omni.calls)
    world.deliver(task)
    [final] = world.posts()
    assert "still running" in section_text(final) and len(world.omni.calls) == calls and world.queue.sent == []
