"""The audit table as template.yaml declares it, in moto server over HTTP (the relay's own SigV4
client, its indexes and TTL), and the owner's notice through the Slack Web API stand-in
(users.lookupByEmail, conversations.open, chat.postMessage with Slack's shapes and errors)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3

import worker_app
from local.cloud.aws_resources import create_all
from local.cloud.gateway import LambdaContext
from local.cloud.lambda_runtime import free_port
from local.cloud.sam_template import SamTemplate
from local.standins.slack_web_api import BOT_TOKEN, SlackWebApi
from omni_relay.adapters.omni import OmniReply
from omni_relay.domain.identity import slack
from omni_relay.domain.model import CancelOutcome, CancelRequest, JobDetails, JobState, Outcome, ReplyTarget
from omni_relay.domain.tasks import CancelTask, Notice
from omni_relay.settings import Settings
from omni_relay.usecases.audit import DynamoAudit, Recorder, Viewer, history
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe
from tests.integration.conftest import point_aws_at
from tools.signers.events import task_event

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
NOW = 1_795_000_000.0
ALICE, BOB = "U0ALICE01", "U0BOB0001"


@pytest.fixture
def audit_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    url = f"http://127.0.0.1:{port}"
    urllib3.request("POST", f"{url}/moto-api/reset", timeout=5)  # moto keeps one state per process
    point_aws_at(monkeypatch, url)
    template = SamTemplate(TEMPLATE, {"OmniBaseUrl": "https://acme.omniapp.co/api"})
    created = create_all(template, lambda service: boto3.client(service))
    yield str(created["AuditTable"]["Ref"])
    urllib3.request("POST", f"{url}/moto-api/reset", timeout=5)  # the next test's moto starts empty
    moto.stop()


def decide(recorder: Recorder, user: str, outcome: Outcome, at: float, owner: str = "u-alice") -> dict[str, Any]:
    request = CancelRequest(JOB, slack("T0LOCAL01", user, "C0ONCALL1"), "because it scans 4 TB", "#C0ONCALL1")
    details = JobDetails(owner_id=owner, chat_url="https://acme.omniapp.co/chat/1")
    done = CancelOutcome(JOB, outcome, JobState.CANCELLED, "HTTP 200", job=details)
    return recorder.record(request, done, action="cancel", by="relay", request_id=f"req-{at}", at=at)


def test_records_are_stored_with_their_ttl_and_read_back_through_each_index(audit_table: str):
    recorder = Recorder(DynamoAudit(audit_table), "acme.omniapp.co", 90)
    first = decide(recorder, ALICE, Outcome.CANCELLED, NOW)
    decide(recorder, BOB, Outcome.NOT_OWNER, NOW + 60, owner="u-carol")
    item = boto3.client("dynamodb").get_item(
        TableName=audit_table, Key={"job_id": {"S": JOB}, "id": {"S": first["id"]}}
    )
    assert item["Item"]["expires"] == {"N": str(int(NOW) + 90 * 86400)}
    assert json.loads(item["Item"]["record"]["S"]) == first
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=audit_table)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires", "ENABLED")
    log = recorder.log
    assert [e.principal for e in log.for_job(JOB, 10)] == ["slack:T0LOCAL01:U0BOB0001", "slack:T0LOCAL01:U0ALICE01"]
    stopped = recorder.last_stop(JOB)
    assert stopped is not None and stopped.principal == "slack:T0LOCAL01:U0ALICE01"
    assert [e.decision for e in history(log, Viewer("slack:T0LOCAL01:U0ALICE01"), 10, NOW)] == ["cancelled"]
    assert [e.decision for e in history(log, Viewer("slack:T0LOCAL01:U0DAVE001", "u-carol"), 10, NOW)] == ["not_owner"]
    everything = history(log, Viewer("slack:T0LOCAL01:U0ERIN001", on_call=True), 10, NOW + 120)
    assert [e.decision for e in everything] == ["not_owner", "cancelled"]


# -- the owner's notice ---------------------------------------------------------------------------


def omni_answer(op: str, value: str, token: str) -> OmniReply:
    if op == "status":
        body = {"id": value, "state": "CANCELLED", "userId": "u-alice", "prompt": "Churn by cohort, all of 2019-2026"}
        return OmniReply(200, {**body, "omniChatUrl": "https://acme.omniapp.co/chat/1"})
    if op == "user":
        return OmniReply(200, {"id": value, "userName": "Alice@Acme.com", "displayName": "Alice"})
    return OmniReply(200, {"jobId": value, "state": "CANCELLED"})


@pytest.fixture
def api() -> Iterator[SlackWebApi]:
    with SlackWebApi() as running:
        running.add_user(ALICE, "alice@acme.com", "Alice")
        running.add_user(BOB, "bob@acme.com", "Bob")
        yield running


def runtime_for(
    use_runtime: Callable[[Runtime], Runtime], api: SlackWebApi, bot_token: str = BOT_TOKEN
) -> tuple[Runtime, FakeOmni]:
    omni = FakeOmni(omni_answer)
    store = FakeSecretStore(
        {"slack": {"signing_secrets": ["s" * 32], "bot_token": bot_token}, "omni": {"api_key": "omni-org-key-int"}}
    )
    settings = Settings.from_env(
        {
            "OMNI_BASE_URL": "https://acme.omniapp.co/api",
            "OMNI_SECRET_ID": "omni",
            "SLACK_SECRET_ID": "slack",
            "SLACK_ALLOWED_TEAMS": "T0LOCAL01",
            "SLACK_API_URL": api.url,
        }
    )
    runtime = Runtime(settings, store, omni, dedupe=MemoryDedupe(), now=lambda: NOW + 180)
    use_runtime(runtime)
    return runtime, omni


def notice(user: str) -> CancelTask:
    requester = slack("T0LOCAL01", user, "C0ONCALL1")
    return CancelTask(
        JOB, requester, ReplyTarget(), "req-1", reason="because it scans 4 TB", where="#C0ONCALL1", notice=Notice(NOW)
    )


def deliver(task: CancelTask, receive_count: int = 1) -> None:
    worker_app.lambda_handler(task_event(task.to_json(), receive_count=receive_count), LambdaContext())


def test_the_owner_is_told_once_who_cancelled_their_job_from_where_when_and_why(api: SlackWebApi, capsys, use_runtime):
    runtime, omni = runtime_for(use_runtime, api)
    deliver(notice(BOB))
    deliver(notice(BOB), receive_count=2)  # SQS delivers it again: told once
    [message] = api.messages_to(ALICE)
    assert api.calls("users.lookupByEmail") == [{"method": "users.lookupByEmail", "email": "alice@acme.com"}]
    assert [c["users"] for c in api.calls("conversations.open")] == [ALICE]
    assert message["text"] == f"Your Omni AI job {JOB} was cancelled by @{BOB} from #C0ONCALL1 3 minutes ago."
    section = message["blocks"][0]["text"]["text"]
    assert f"by <@{BOB}> from <#C0ONCALL1> 3 minutes ago" in section
    facts = [e["text"] for e in message["blocks"][1]["elements"]]
    assert facts == ["Prompt: Churn by cohort, all of 2019-2026", "Reason: because it scans 4 TB"]
    assert message["blocks"][2]["elements"][0]["url"] == "https://acme.omniapp.co/chat/1"
    assert [op for op, *_ in omni.calls] == ["status", "user"]  # the owner from the job, their email from SCIM
    assert api.messages_to(BOB) == []
    print("OWNER_MESSAGE", json.dumps(message))


def test_the_owner_who_cancelled_their_own_job_is_not_told(api: SlackWebApi, use_runtime):
    runtime_for(use_runtime, api)
    deliver(notice(ALICE))
    assert api.calls("conversations.open") == [] and api.calls("chat.postMessage") == []


@pytest.mark.parametrize(
    ("breaks", "outcome"),
    [
        ("no_such_person", "slack"),  # users.lookupByEmail: users_not_found
        ("no_chat_write", "slack"),  # chat.postMessage: missing_scope
        ("down", "slack"),
        ("no_bot_token", "no_bot_token"),
    ],
)
def test_when_the_owner_cannot_be_told_it_is_logged_and_counted_and_nothing_fails(
    api: SlackWebApi, capsys, breaks: str, outcome: str, use_runtime
):
    runtime_for(use_runtime, api, bot_token="" if breaks == "no_bot_token" else BOT_TOKEN)
    if breaks == "no_such_person":
        api.directory.users.pop(ALICE)
    if breaks == "no_chat_write":
        api.directory.scopes.discard("chat:write")
    if breaks == "down":
        api.directory.mode = "down"
    deliver(notice(BOB))  # raises nothing, and SQS is not asked to deliver it again
    out = capsys.readouterr().out
    assert api.messages_to(ALICE) == []
    assert '"OwnerNotices"' in out and f'"outcome":"{outcome}"' in out
    assert BOT_TOKEN not in out
