"""Who stopped my job: a record of every decision (audit.py), the reason after the job, status naming
who cancelled through the relay, the owner's notice queued for the worker, and `history`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

import worker_app
from local.cloud.gateway import LambdaContext
from omni_relay import wiring
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.domain.grammar import Verb, parse_args
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import OmniUnavailable
from omni_relay.usecases.audit import Entry, Viewer, history
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore, ManualClock, MemoryAudit, MemoryDedupe, MemoryQueue, RecordingHttp
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, make_settings
from tests.unit.test_relay_handler import invoke
from tools.signers.events import slack_event, task_event, webhook_event

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
HOST = "acme.omniapp.co"
BOT_TOKEN = "xoxb-unit-bot-token-5d1e9a"  # noqa: S105 (a test's made-up secret)
USER_TOKEN = "omni-personal-token-unit-77b2"  # noqa: S105
RESPONSE_URL = "https://hooks.slack.com/commands/T0LOCAL01/1/local-secret-path"
GITHUB_SECRET = "gh-secret-0123456789abcdef"  # noqa: S105


@dataclass
class Messages:
    """The SlackMessagesPort interface: Slack's users.lookupByEmail and a DM, recorded."""

    people: dict[str, str] = field(default_factory=lambda: {"alice@acme.com": "U0ALICE01"})
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def user_by_email(self, email: str, token: str, deadline: Any) -> tuple[str, str]:
        from omni_relay.errors import WhoUnknown

        if email not in self.people:
            raise WhoUnknown("Slack does not know this user or group")
        return self.people[email], "T0LOCAL01"

    def direct_message(self, user_id: str, message: dict[str, Any], token: str, deadline: Any) -> None:
        self.sent.append((user_id, message))


@dataclass
class Job:
    """Omni's side of one job: its state, and whether Omni answers at all."""

    state: str = "QUEUED"
    cancelled_at: str = "2026-11-18T11:03:40Z"  # 3 minutes before NOW: cancelled before, by someone else
    cancel_status: int = 200
    down: bool = False
    cancelled_by: str = "u-key-creator"

    def answer(self, op: str, job_id: str, token: str) -> OmniReply:
        if self.down:
            raise OmniUnavailable("ReadTimeoutError")
        if op == "user":
            return OmniReply(200, {"id": job_id, "userName": "alice@acme.com", "displayName": "Alice"})
        if op == "cancel":
            if self.cancel_status != 200:
                return OmniReply(self.cancel_status, {"detail": "nope"})
            if self.state in ("QUEUED", "EXECUTING"):
                self.state = "CANCELLED" if self.state == "QUEUED" else "EXECUTING"
                self.cancelled_at = "2026-11-18T11:06:40Z"  # NOW: by this request
                return OmniReply(200, {"jobId": job_id, "state": self.state})
            return OmniReply(200, {"jobId": job_id, "state": self.state})
        body: dict[str, Any] = {
            "id": job_id,
            "state": self.state,
            "userId": "u-alice",
            "prompt": "Churn by cohort",
            "omniChatUrl": f"https://{HOST}/chat/1",
            "createdAt": "2026-11-18T19:00:00Z",
        }
        if self.state == "CANCELLED":
            body |= {"cancelledAt": self.cancelled_at, "cancelledBy": self.cancelled_by}
        return OmniReply(200, body)


@dataclass
class World:
    job: Job
    omni: FakeOmni
    audit: MemoryAudit
    queue: MemoryQueue
    store: FakeSecretStore
    runtime: Runtime
    messages: Messages
    clock: ManualClock

    def slack(self, text: str, user: str = "U0LOCAL01", team: str = "T0LOCAL01") -> dict[str, Any]:
        event = slack_event(
            "/slack/commands",
            text,
            secret=SIGNING_SECRET,
            timestamp=NOW,
            user_id=user,
            team_id=team,
            response_url=RESPONSE_URL,
        )
        status, reply = invoke(event)
        assert status == 200
        return reply

    def deliver(self, task: CancelTask, receive_count: int = 1) -> None:
        worker_app.lambda_handler(task_event(task.to_json(), receive_count=receive_count), LambdaContext())

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.audit.records


def world_with(use_runtime: Callable[[Runtime], Runtime], **env: str) -> World:
    job, audit, queue = Job(), MemoryAudit(), MemoryQueue()
    omni = FakeOmni(job.answer)
    store = FakeSecretStore(
        {
            "slack": {"signing_secrets": [SIGNING_SECRET], "bot_token": BOT_TOKEN},
            "omni": {"api_key": OMNI_KEY, "user_tokens": {"slack:T0LOCAL01:U0TOKEN01": USER_TOKEN}},
            "webhooks": {"github": {"secrets": [GITHUB_SECRET]}},
        }
    )
    settings = make_settings(CANCEL_QUEUE_URL="q", WEBHOOK_SECRET_ID="webhooks", GITHUB_ALLOWED="*", **env)
    messages, clock = Messages(), ManualClock(NOW)
    runtime = Runtime(
        settings,
        store,
        omni,
        queue=queue,
        postback=PostBack(AllowedHosts.parse(), http=RecordingHttp()),
        dedupe=MemoryDedupe(),
        audit=audit,
        slack_messages=messages,
        now=clock,
    )
    use_runtime(runtime)
    return World(job, omni, audit, queue, store, runtime, messages, clock)


@pytest.fixture
def world(use_runtime) -> World:
    return world_with(use_runtime)


def said(reply: dict[str, Any]) -> str:
    return json.dumps(reply.get("blocks", []))


# -- a record of every decision ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "cancel_status", "decision", "omni_state"),
    [
        ("QUEUED", 200, "cancelled", "CANCELLED"),
        ("EXECUTING", 200, "stopping", "EXECUTING"),
        ("COMPLETE", 200, "already_finished", "COMPLETE"),
        ("QUEUED", 403, "forbidden", None),
        ("QUEUED", 404, "not_found", None),
    ],
)
def test_every_cancel_is_recorded_once_with_who_asked_where_and_omnis_answer(
    world: World, state: str, cancel_status: int, decision: str, omni_state: str | None
):
    world.job.state, world.job.cancel_status = state, cancel_status
    world.slack(JOB)
    [record] = world.records
    assert record["schema"] == "omni-cancel-relay.decision/1"
    assert (record["action"], record["decision"], record["omni"]["state"]) == ("cancel", decision, omni_state)
    assert record["requester"]["principal"] == "slack:T0LOCAL01:U0LOCAL01"
    assert record["requester"]["ids"] == ["slack:T0LOCAL01:U0LOCAL01"]
    assert "email" not in record["requester"]  # Slack signs no email
    assert (record["job_id"], record["instance"], record["where"], record["by"]) == (JOB, HOST, "#C0LOCAL01", "relay")
    assert record["refused"] is False
    assert record["at"] == datetime.fromtimestamp(NOW, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_record_expires_after_the_retention_days(world: World, use_runtime):
    world.slack(JOB)
    assert world.records[0]["expires"] == NOW + 90 * 86400
    other = world_with(use_runtime, AUDIT_RETENTION_DAYS="7")
    other.slack(JOB)
    assert other.records[0]["expires"] == NOW + 7 * 86400


@pytest.mark.parametrize(
    ("env", "team", "decision"),
    [
        ({}, "T0OTHER01", "sender_not_allowed"),
        ({"SENDER_RATE_LIMIT_PER_MIN": "1"}, "T0LOCAL01", "rate_limited"),
    ],
)
def test_each_refusal_is_recorded_as_the_relays_own_no(env: dict[str, str], team: str, decision: str, use_runtime):
    world = world_with(use_runtime, **env)
    world.slack(JOB, team=team)
    if decision == "rate_limited":
        world.slack(JOB, team=team)
    last = world.records[-1]
    assert (last["decision"], last["refused"]) == (decision, True)
    if decision == "sender_not_allowed":
        assert world.omni.calls == []  # refused before Omni


def test_not_configured_is_recorded(use_runtime):
    world = world_with(use_runtime)
    world.store.values["omni"] = {}
    world.slack(JOB)
    assert [(r["decision"], r["refused"]) for r in world.records] == [("not_configured", True)]


def test_owner_or_on_call_refusals_are_recorded_for_each_reason(use_runtime):
    from tests.unit import test_owner_or_on_call as owner

    ours = MemoryAudit()
    world = owner.world_with(use_runtime, ON_CALL="S0ONCALL1")
    world_runtime = wiring.current()
    world_runtime.recorder.log = ours
    world.command("U0BOB0001")  # Alice's job: Bob is neither the owner nor on call
    world.slack.fail = "Slack did not answer when asked who you are"
    world.command("U0ERIN001")  # not looked up before: Slack's failure decides
    assert [(r["decision"], r["refused"], r.get("owner")) for r in ours.records] == [
        ("not_owner", True, "u-alice"),
        ("identity_unknown", True, "u-alice"),
    ]
    assert all("link" not in r for r in ours.records)  # never a link to someone else's job


def test_a_status_answered_is_recorded(world: World):
    world.slack(f"status {JOB}")
    [record] = world.records
    assert (record["action"], record["decision"], record["omni"]["state"]) == ("status", "status", "QUEUED")
    assert world.omni.cancels == []


def test_handed_off_then_finished_is_two_records_relay_then_worker(world: World):
    world.job.down = True
    reply = world.slack(f"{JOB} because it scans 4 TB")
    assert "I will post the result here" in said(reply)
    [task] = world.queue.tasks
    world.job.down = False
    world.queue.sent.clear()
    world.deliver(task)
    assert [(r["by"], r["decision"]) for r in world.records] == [("relay", "pending"), ("worker", "cancelled")]
    assert [r["reason"] for r in world.records] == ["because it scans 4 TB"] * 2
    assert [r["request_id"] for r in world.records] == [task.request_id] * 2
    assert world.queue.sent == []  # the worker tells the owner itself, after the requester's answer
    [(owner, message)] = world.messages.sent
    assert owner == "U0ALICE01" and "because it scans 4 TB" in json.dumps(message)
    world.deliver(task, receive_count=2)  # SQS delivers it again: neither recorded nor told twice
    assert len(world.records) == 2 and len(world.messages.sent) == 1


def test_a_webhook_cancel_is_recorded_with_its_issue_link_and_reason(world: World):
    event = webhook_event(
        "github", JOB, timestamp=NOW, secret=GITHUB_SECRET, text=f"/omni-cancel {JOB} because it scans 4 TB"
    )
    status, body = invoke(event)
    assert status == 200, body
    [record] = world.records
    assert record["where"].startswith("https://github.com/") and "/issues/" in record["where"]
    assert record["requester"]["principal"].startswith("github:id:")
    assert record["reason"] == "because it scans 4 TB"
    assert "Reason: `because it scans 4 TB`" in body["message"]  # GitHub's Markdown shows it literally


def test_when_the_table_is_down_the_cancel_is_answered_and_the_log_line_is_the_record(world: World, log_lines):
    world.audit.fail = "ProvisionedThroughputExceededException"
    reply = world.slack(JOB)
    assert "Cancelled Omni AI job" in said(reply)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [recorded] = [line for line in lines if line["message"] == "decision recorded"]
    assert recorded["audit"]["decision"] == "cancelled"
    assert any(line["message"].startswith("audit record not stored") for line in lines)


def test_no_record_and_no_log_line_holds_a_secret(world: World, log_lines, capsys):
    world.slack(f"{JOB} because the key omni-org-key is fine")
    world.slack(f"status {JOB}")
    world.slack(JOB, user="U0TOKEN01")  # cancels with their own Omni token
    world.slack(JOB, team="T0OTHER01")  # refused
    world.job.down = True
    world.slack(JOB)
    for task in world.queue.tasks:
        world.job.down = False
        world.deliver(task)
    written = json.dumps(world.records) + log_lines.getvalue() + capsys.readouterr().out
    # (The last cancel, of the job cancelled a moment before, is answered from the relay's record: no hand-off.)
    assert len(world.records) >= 5
    for secret in (OMNI_KEY, USER_TOKEN, BOT_TOKEN, SIGNING_SECRET, GITHUB_SECRET, RESPONSE_URL, "local-secret-path"):
        assert secret not in written, secret


# -- a reason, and who stopped it ---------------------------------------------------------------


def test_the_grammar_reads_a_reason_after_the_job_and_history_with_its_count():
    command = parse_args(f"{JOB}   because it\tscans\u200b 4 TB\x07", HOST)
    assert (command.verb, command.job_id, command.reason) == (Verb.CANCEL, JOB, "because it scans 4 TB")
    assert parse_args(f"status {JOB} because", HOST).reason == ""  # a look has no reason
    assert parse_args(f"{JOB} " + "x" * 500, HOST).reason == "x" * 300
    assert (parse_args("history", HOST).verb, parse_args("history", HOST).history_size) == (Verb.HISTORY, 10)
    assert parse_args("History 3", HOST).history_size == 3
    assert parse_args("history 9999", HOST).history_size == 50
    assert parse_args(f"history {JOB}", HOST).job_id == ""  # history names no job
    assert parse_args("history ٣", HOST).history_size == 10  # another script's digit is not a count


def test_the_reason_is_shown_in_the_reply(world: World):
    reply = world.slack(f"{JOB} because it scans 4 TB")
    assert "Cancelled Omni AI job" in said(reply) and "Reason: because it scans 4 TB" in said(reply)


def test_status_names_who_cancelled_it_through_the_relay_not_the_keys_creator(world: World):
    world.slack(f"{JOB} because it scans 4 TB", user="U0ALICE01")
    reply = world.slack(f"status {JOB}", user="U0BOB0001")
    text = reply["blocks"][0]["text"]["text"]
    assert "It was cancelled" in text and "by <@U0ALICE01> from <#C0LOCAL01>" in text
    assert "u-key-creator" not in said(reply)
    assert "Reason: because it scans 4 TB" in said(reply)


def test_status_of_a_job_cancelled_elsewhere_still_names_omnis_canceller(world: World):
    world.job.state = "CANCELLED"
    reply = world.slack(f"status {JOB}")
    assert "by Omni user u-key-creator" in reply["blocks"][0]["text"]["text"]


def test_a_cancel_again_says_who_cancelled_it_first(world: World):
    world.slack(f"{JOB} because it scans 4 TB", user="U0ALICE01")
    world.job.cancelled_at = "2026-11-18T11:03:40Z"  # as if Alice's cancel was 3 minutes ago
    reply = world.slack(JOB, user="U0BOB0001")
    text = reply["blocks"][0]["text"]["text"]
    assert "was already cancelled" in text and "by <@U0ALICE01> from <#C0LOCAL01>" in text


# -- the owner's notice is the worker's -----------------------------------------------------------


def test_a_relay_cancel_queues_the_owners_notice_with_what_it_knows(world: World):
    world.slack(f"{JOB} because it scans 4 TB")
    [task] = world.queue.tasks
    assert task.notice is not None and task.notice.at == NOW
    assert (task.reason, task.where, task.reply.url) == ("because it scans 4 TB", "#C0LOCAL01", "")
    assert task.notice.owner == "u-alice" and task.notice.prompt == "Churn by cohort"


@pytest.mark.parametrize("state", ["COMPLETE", "CANCELLED"])
def test_nothing_is_queued_when_the_cancel_stopped_nothing(world: World, state: str):
    world.job.state = state
    world.slack(JOB)
    assert world.queue.sent == []


def test_notify_owner_false_queues_no_notice(use_runtime):
    world = world_with(use_runtime, NOTIFY_OWNER="false")
    world.slack(JOB)
    assert world.queue.sent == []


# -- history --------------------------------------------------------------------------------------


def entry(n: int, principal: str, owner: str = "") -> Entry:
    at = f"2026-11-{10 + n:02d}T10:00:00.000Z"
    record = {"id": f"{at}#r{n}", "at": at, "job_id": JOB, "requester": {"principal": principal}, "action": "cancel"}
    return Entry({**record, **({"owner": owner} if owner else {})})


def test_history_visibility_own_requests_owned_jobs_in_owner_mode_everything_on_call():
    mine, owned, others = entry(1, "slack:T1:U1"), entry(2, "slack:T1:U2", owner="u-me"), entry(3, "slack:T1:U3")
    assert [Viewer("slack:T1:U1").may_see(e) for e in (mine, owned, others)] == [True, False, False]
    assert [Viewer("slack:T1:U1", omni_user="u-me").may_see(e) for e in (mine, owned, others)] == [True, True, False]
    assert [Viewer("slack:T1:U1", on_call=True).may_see(e) for e in (mine, owned, others)] == [True, True, True]


def test_history_lists_what_each_person_may_see_newest_first(world: World):
    for user in ("U0ALICE01", "U0BOB0001", "U0ALICE01"):
        world.job.state = "QUEUED"
        world.slack(f"{JOB} because {user}", user=user)
    log = world.audit
    alice = history(log, Viewer("slack:T0LOCAL01:U0ALICE01"), 10, NOW)
    assert [e.principal for e in alice] == ["slack:T0LOCAL01:U0ALICE01"] * 2
    assert history(log, Viewer("slack:T0LOCAL01:U0ALICE01"), 1, NOW)[0].record["id"] == alice[0].record["id"]
    everyone = history(log, Viewer("slack:T0LOCAL01:U0CAROL01", on_call=True), 10, NOW)
    assert len(everyone) == 3 and [e.record["id"] for e in everyone] == sorted(
        (e.record["id"] for e in everyone), reverse=True
    )
    assert history(log, Viewer("slack:T0LOCAL01:U0CAROL01"), 10, NOW) == []


def test_history_in_slack_shows_only_their_own_and_everything_to_on_call(use_runtime):
    world = world_with(use_runtime, ON_CALL="U0ERIN001")
    world.slack(f"{JOB} because it scans 4 TB", user="U0ALICE01")
    world.clock.now = NOW + 60
    world.slack(f"status {JOB}", user="U0BOB0001")
    bob = said(world.slack("history", user="U0BOB0001"))
    assert "status" in bob and "cancel*" not in bob and "U0ALICE01" not in bob
    erin = world.slack("history 5", user="U0ERIN001")
    text = erin["blocks"][0]["text"]["text"]
    assert "The last 2 decisions" in text and "<@U0ALICE01>" in text and "because it scans 4 TB" in text
    assert text.index("status") < text.index("*cancel*")  # newest first
    assert f"<https://{HOST}/chat/1|open>" in text
    assert "No cancels" in said(world.slack("history", user="U0CAROL01"))


def test_history_when_the_table_cannot_be_read_says_so(world: World):
    world.audit.fail = "ResourceNotFoundException"
    reply = world.slack("history")
    assert "cannot be read right now" in reply["text"]


# -- attackers ----------------------------------------------------------------------------------------

SHARED_TOKEN = "shared-token-0123456789abcdef"  # noqa: S105


def test_history_in_a_webhook_never_cancels_the_job_its_payload_names(use_runtime):
    """`/omni-cancel history` is not a job word: a structured sender's payload job (jobId) is not
    cancelled for it (before the history verb, "history" was an unknown token and the payload's job was cancelled)."""
    world = world_with(use_runtime, SHARED_ALLOWED="*")
    world.store.values["webhooks"]["shared"] = {"tokens": [SHARED_TOKEN]}
    body = {"jobId": JOB, "description": "/omni-cancel history 50", "user": "mallory"}
    status, reply = invoke(webhook_event("shared", JOB, timestamp=NOW, secret=SHARED_TOKEN, body=body))
    assert status == 200 and reply["outcome"] == "help"
    assert world.omni.calls == [] and world.records == []


HOSTILE = "<!channel> <https://evil.example/x|click here> *now* `x`"


def test_a_reason_is_data_on_every_surface(world: World):
    reply = world.slack(f"{JOB} {HOSTILE}", user="U0BOB0001")
    markup = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert all("<!channel>" not in m and "evil.example" not in m for m in markup)  # not in any mrkdwn
    literal = [e for b in reply["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert {"type": "plain_text", "text": f"Reason: {HOSTILE}", "emoji": False} in literal
    [task] = world.queue.tasks
    world.deliver(task)
    [(_, message)] = world.messages.sent
    assert all("<!channel>" not in b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    history = world.slack("history", user="U0BOB0001")["blocks"][0]["text"]["text"]
    assert "<!channel>" not in history and "&lt;!channel&gt;" in history and "<https://evil" not in history


def test_outsiders_never_see_who_stopped_a_job_or_why(world: World):
    world.slack(f"{JOB} because of the Q3 layoffs", user="U0ALICE01")
    payload_text = f"/omni-cancel status {JOB}"
    event = webhook_event("github", JOB, timestamp=NOW, secret=GITHUB_SECRET, text=payload_text)
    public = json.loads(event["body"])
    public["repository"]["private"] = False
    event = webhook_event("github", JOB, timestamp=NOW, secret=GITHUB_SECRET, body=public)
    status, body = invoke(event)
    assert status == 200 and body["outcome"] == "status"
    shown = json.dumps(body)
    assert "U0ALICE01" not in shown and "C0LOCAL01" not in shown and "layoffs" not in shown


def test_the_shortcut_and_the_unfurl_cards_buttons_are_recorded_too():
    from tests.unit import test_slack_in_place as in_place

    setup = in_place.Setup()
    ours = MemoryAudit()
    setup.runtime.recorder.log = ours
    alert = {"text": f"Omni job running for 2h: <{in_place.LINK}|open job>"}
    setup.send("/slack/interactions", in_place.shortcut(alert))
    setup.send("/slack/interactions", in_place.press(in_place.RUNNING))
    assert [(r["action"], r["decision"], r["where"]) for r in ours.records] == [
        ("status", "status", f"#{in_place.CHANNEL}"),
        ("cancel", "cancelled", f"#{in_place.CHANNEL}"),
    ]
