"""Owner-or-on-call: with the org key, people cancel their own jobs and on-call cancels any. The
relay's handler in-process with fakes of Omni (jobs and SCIM users) and of Slack's directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from omni_relay.adapters.omni import OmniReply
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import WhoUnknown
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, make_settings
from tests.unit.test_relay_handler import invoke
from tests.unit.test_webhooks import build, event, invoke_on
from tools.signers.events import slack_event

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
TEAM = "T0LOCAL01"
PEOPLE = {  # Slack user -> (email, Omni user id)
    "U0ALICE01": ("alice@acme.com", "u-alice"),
    "U0BOB0001": ("bob@acme.com", "u-bob"),
    "U0ERIN001": ("erin@acme.com", "u-erin"),
    "U0DAVE001": ("dave@acme.com", "u-dave"),
}
OMNI_USERS = {omni_id: email for email, omni_id in PEOPLE.values()}


@dataclass
class FakeSlack:
    """The SlackDirectoryPort interface: Slack's users.info and usergroups.users.list."""

    groups: dict[str, frozenset[str]] = field(default_factory=lambda: {"S0ONCALL1": frozenset({"U0DAVE001"})})
    fail: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)

    def email_of(self, user_id: str, token: str, deadline: Deadline) -> str:
        self.calls.append(("users.info", user_id))
        if self.fail:
            raise WhoUnknown(self.fail)
        if not token:
            raise WhoUnknown(
                "the relay's Slack secret has no bot_token (a bot token with users:read.email)", setup=True
            )
        return PEOPLE[user_id][0]

    def group_members(self, group_id: str, token: str, deadline: Deadline) -> frozenset[str]:
        self.calls.append(("usergroups.users.list", group_id))
        if self.fail:
            raise WhoUnknown(self.fail)
        return self.groups.get(group_id, frozenset())


@dataclass
class Omni:
    """Jobs owned by people, and Omni's SCIM users."""

    owner: str = "u-alice"
    job_status: int = 200
    scim_status: int = 200

    def answer(self, op: str, value: str, token: str) -> OmniReply:
        if op == "cancel":
            return OmniReply(200, {"jobId": value, "state": "CANCELLED"})
        if op == "status":
            body = {"id": value, "state": "EXECUTING", "userId": self.owner, "prompt": "Revenue by region"}
            return OmniReply(self.job_status, body if self.job_status == 200 else {"detail": "Job not found"})
        if self.scim_status != 200:
            return OmniReply(self.scim_status, {})
        if op == "find_user":
            found = [
                {"id": i, "userName": e, "displayName": e.split("@")[0].title()}
                for i, e in OMNI_USERS.items()
                if e == value
            ]
            return OmniReply(200, {"Resources": found, "totalResults": len(found)})
        email = OMNI_USERS.get(value, "")
        return OmniReply(200, {"id": value, "userName": email, "displayName": email.split("@")[0].title()})


@dataclass
class World:
    omni: Omni
    calls: FakeOmni
    slack: FakeSlack
    store: FakeSecretStore

    def command(self, user: str, text: str = JOB) -> dict[str, Any]:
        status, reply = invoke(slack_event("/slack/commands", text, secret=SIGNING_SECRET, timestamp=NOW, user_id=user))
        assert status == 200
        return reply

    def ops(self) -> list[str]:
        return [call[0] for call in self.calls.calls]


def world_with(use_runtime: Callable[[Runtime], Runtime], **env: str) -> World:
    omni = Omni()
    calls = FakeOmni(omni.answer)
    slack = FakeSlack()
    store = FakeSecretStore(
        {
            "slack": {"signing_secrets": [SIGNING_SECRET], "bot_token": "xoxb-unit"},
            "omni": {"api_key": OMNI_KEY},
        }
    )
    settings = make_settings(WHO_MAY_CANCEL="owner-or-on-call", SLACK_ALLOWED_TEAMS=TEAM, **env)
    use_runtime(Runtime(settings, store, calls, slack=slack, now=lambda: NOW))
    return World(omni, calls, slack, store)


@pytest.fixture
def world(use_runtime) -> World:
    return world_with(use_runtime, ON_CALL="U0ERIN999,S0ONCALL1,erin@acme.com")


def said(reply: dict[str, Any]) -> str:
    return json.dumps(reply["blocks"])


def test_the_owner_cancels_their_own_job(world: World):
    reply = world.command("U0ALICE01")
    assert "Cancelled Omni AI job" in said(reply)
    assert world.ops() == ["status", "find_user", "cancel"]  # the owner, who asked (SCIM), then the cancel
    assert world.calls.cancels[0][2] == OMNI_KEY


def test_someone_else_is_refused_and_told_whose_job_it_is(world: World):
    reply = world.command("U0BOB0001")
    text = said(reply)
    assert "Only the job's owner or on-call can cancel job" in text and "Owner: Alice (alice@acme.com)" in text
    assert world.calls.cancels == []


@pytest.mark.parametrize(
    ("user", "slack_calls"),
    [
        ("U0DAVE001", [("users.info", "U0DAVE001"), ("usergroups.users.list", "S0ONCALL1")]),  # by user group
        ("U0ERIN001", [("users.info", "U0ERIN001")]),  # by Omni email
    ],
)
def test_on_call_cancels_anyones_job(world: World, user: str, slack_calls: list):
    assert "Cancelled Omni AI job" in said(world.command(user))
    assert world.slack.calls == slack_calls and "find_user" not in world.ops()


def test_on_call_by_slack_user_id_needs_no_look_up(use_runtime):
    w = world_with(use_runtime, ON_CALL="U0BOB0001")
    assert "Cancelled Omni AI job" in said(w.command("U0BOB0001"))
    assert w.slack.calls == [] and w.ops() == ["status", "cancel"]


def test_a_second_command_costs_one_omni_call_and_no_look_up(world: World):
    world.command("U0ALICE01")
    world.calls.calls.clear()
    world.slack.calls.clear()
    world.command("U0ALICE01", JOB.upper())
    # The owner check reads the job again; its cancel a moment ago is answered from the relay's record.
    assert world.ops() == ["status"] and world.slack.calls == []  # cached: who Alice is


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda w: setattr(w.slack, "fail", "Slack did not answer when asked who you are"), "Slack did not answer"),
        (
            lambda w: setattr(w.slack, "fail", "Slack is rate-limiting the relay's look-ups; try again in a minute"),
            "Slack is rate-limiting",
        ),
        (lambda w: setattr(w.omni, "scim_status", 503), "Omni's user directory (SCIM) did not answer"),
        (lambda w: setattr(w.omni, "scim_status", 401), "put a SCIM token in the Omni secret"),
        (lambda w: PEOPLE.__setitem__("U0BOB0001", ("bob@elsewhere.com", "u-bob")), "no Omni user has the email"),
        (lambda w: w.store.values["slack"].pop("bot_token"), "has no bot_token"),
        (lambda w: setattr(w.omni, "job_status", 404), "No job"),
    ],
)
def test_whenever_who_is_who_cannot_be_told_the_answer_is_a_refusal_with_its_reason(world: World, break_it, expected):
    saved = dict(PEOPLE)
    try:
        break_it(world)
        world.store._cache.clear()
        reply = world.command("U0BOB0001")
    finally:
        PEOPLE.clear()
        PEOPLE.update(saved)
    assert expected in said(reply), said(reply)
    assert world.calls.cancels == []


def test_a_person_with_their_own_token_is_left_to_omnis_rule(world: World):
    world.store.values["omni"]["user_tokens"] = {f"{TEAM}:U0BOB0001": "bob-pat"}
    world.store._cache.clear()
    world.command("U0BOB0001")
    assert world.ops() == ["cancel", "status"] and world.calls.cancels[0][2] == "bob-pat"  # details after


def test_status_follows_the_same_rule_as_cancelling(world: World):
    refused = world.command("U0BOB0001", f"status {JOB}")
    assert "Only the job's owner or on-call" in said(refused) and "Revenue by region" not in said(refused)
    mine = world.command("U0ALICE01", f"status {JOB}")
    assert "is EXECUTING" in said(mine) and "Revenue by region" in said(mine) and world.calls.cancels == []


# -- a webhook source: who the sender is comes from the Omni secret's identities map -------------------


def github_world(**env: str) -> tuple[FakeOmni, Omni]:
    omni = Omni()
    calls = FakeOmni(omni.answer)
    runtime, _, store = build(calls, WHO_MAY_CANCEL="owner-or-on-call", **env)
    store.values["omni"] = {"api_key": "org-key", "identities": {"github:id:1": "alice@acme.com"}}
    return calls, omni, runtime


def test_a_github_owner_cancels_and_another_sender_is_refused():
    calls, omni, runtime = github_world()
    [(_, mine)] = invoke_on(runtime, event("github"))  # sender id 1 -> alice@acme.com, the owner
    assert mine["outcome"] == "cancelled"
    omni.owner = "u-bob"
    [(_, theirs)] = invoke_on(runtime, event("github", text=f"/omni-cancel {JOB} now"))
    assert theirs["outcome"] == "not_owner" and "Owner: `Bob (bob@acme.com)`" in theirs["message"]
    assert len(calls.cancels) == 1


def test_a_github_sender_on_call_by_id_and_an_unmapped_one():
    calls, omni, runtime = github_world(ON_CALL="github:id:1")
    omni.owner = "u-bob"
    [(_, on_call)] = invoke_on(runtime, event("github"))
    assert on_call["outcome"] == "cancelled"
    calls2, _, runtime2 = github_world()
    runtime2.authorized._secrets.values["omni"]["identities"] = {}
    [(status, unmapped)] = invoke_on(runtime2, event("github"))
    assert (status, unmapped["outcome"]) == (403, "identity_unknown")
    assert "maps no email to your github account" in unmapped["message"] and calls2.cancels == []


def test_a_sender_who_writes_their_own_identity_cannot_be_named():
    calls, omni, runtime = github_world()
    runtime.authorized._secrets.values["omni"]["identities"]["standard:claimed:runbook-bot"] = "alice@acme.com"
    [(_, reply)] = invoke_on(runtime, event("standard"))
    assert reply["outcome"] == "identity_unknown" and "does not sign who sent" in reply["message"]
    assert calls.cancels == []


def test_a_missing_token_or_scope_is_the_operators_to_fix_and_says_so_in_the_log(world: World, capsys, log_lines):
    world.store.values["slack"].pop("bot_token")
    world.store._cache.clear()
    world.command("U0BOB0001")
    logged, metrics = log_lines.getvalue(), capsys.readouterr().out
    assert '"level":"ERROR"' in logged and '"message":"owner-or-on-call is not fully set up"' in logged
    assert '"SetupIncomplete"' in metrics and "xoxb" not in logged + metrics  # the token is never logged


def test_a_jira_author_is_named_by_the_email_atlassian_signs_but_not_when_a_rule_writes_it():
    from tests.unit.test_webhooks import NOW as WEBHOOK_NOW
    from tools.signers.webhooks import payload

    calls, omni, runtime = github_world()
    body = payload("jira", JOB, now=WEBHOOK_NOW)
    body["comment"]["author"]["emailAddress"] = "alice@acme.com"
    [(_, signed)] = invoke_on(runtime, event("jira", body=body))
    assert signed["outcome"] == "cancelled"  # the owner, named by Atlassian's signed payload
    rule = event("jira", body={**body, "comment": {**body["comment"], "id": "10001"}})
    del rule["headers"]["x-hub-signature"]
    rule["headers"]["x-omni-relay-token"] = runtime.authorized._secrets.values["webhooks"]["jira"]["tokens"][0]
    [(_, claimed)] = invoke_on(runtime, rule)
    assert claimed["outcome"] == "identity_unknown" and len(calls.cancels) == 1
