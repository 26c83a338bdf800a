"""The real adapters owner-or-on-call stands on, over HTTP on loopback: SlackApi against the Slack
Web API stand-in (its documented answers and error shapes, its rate limit) and OmniClient's SCIM
calls against the Omni emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.standins.omni_emulator import OmniEmulator
from local.standins.slack_web_api import BOT_TOKEN, SlackWebApi
from omni_relay.adapters.omni import OmniClient
from omni_relay.adapters.slack_api import SlackApi
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import WhoUnknown
from tests.integration.conftest import ORG_KEY


@pytest.fixture
def slack() -> Iterator[SlackWebApi]:
    with SlackWebApi() as api:
        api.add_user("U0ALICE01", "Alice@Acme.com")
        api.add_group("S0ONCALL1", ["U0BOB0001", "U0ERIN001"])
        yield api


def ask(slack: SlackWebApi, user: str = "U0ALICE01", token: str = BOT_TOKEN) -> str:
    return SlackApi(slack.url).email_of(user, token, Deadline.within(2))


def test_a_persons_email_and_a_groups_members(slack: SlackWebApi):
    assert ask(slack) == "alice@acme.com"
    assert SlackApi(slack.url).group_members("S0ONCALL1", BOT_TOKEN, Deadline.within(2)) == {"U0BOB0001", "U0ERIN001"}
    assert slack.calls("users.info") == [{"method": "users.info", "user": "U0ALICE01"}]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: s.directory.scopes.discard("users:read.email"), "needs the users:read.email scope"),
        (lambda s: s.directory.scopes.discard("users:read"), "lacks the users:read scope"),
        (lambda s: setattr(s.directory, "mode", "rate_limited"), "rate-limiting"),
        (lambda s: setattr(s.directory, "mode", "down"), "Slack did not answer"),
        (lambda s: setattr(s.directory, "token", "xoxb-rotated"), "bot token is missing, revoked or invalid"),
    ],
)
def test_every_slack_failure_is_a_reason_a_person_can_read(slack: SlackWebApi, setup, reason: str):
    setup(slack)
    with pytest.raises(WhoUnknown, match=reason):
        ask(slack)


def test_an_unknown_user_and_a_missing_token(slack: SlackWebApi):
    with pytest.raises(WhoUnknown, match="does not know this user"):
        ask(slack, "U0NOBODY1")
    with pytest.raises(WhoUnknown, match="no bot_token"):
        ask(slack, token="")
    assert len(slack.calls("users.info")) == 1  # no token: Slack is not even asked


def test_scim_finds_people_by_email_and_by_id(emulator: OmniEmulator):
    emulator.add_user("u-alice", "alice@acme.com", "Alice")
    client = OmniClient(emulator.base_url)
    found = client.find_user("ALICE@acme.com", ORG_KEY, Deadline.within(2))
    assert found.status == 200 and [r["id"] for r in found.body["Resources"]] == ["u-alice"]
    assert client.find_user("nobody@acme.com", ORG_KEY, Deadline.within(2)).body["Resources"] == []
    assert client.user("u-alice", ORG_KEY, Deadline.within(2)).body["displayName"] == "Alice"
    assert client.user("u-nobody", ORG_KEY, Deadline.within(2)).status == 404
    emulator.add_key("member-pat", user="bob", admin=False)
    assert client.find_user("alice@acme.com", "member-pat", Deadline.within(2)).status == 401
