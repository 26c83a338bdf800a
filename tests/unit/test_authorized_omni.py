"""Every Omni answer (both specs) becomes exactly one Outcome; authorization decides the credential."""

from __future__ import annotations

import pytest

from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.omni_replies import interpret
from omni_relay.domain.allowlists import AllowList
from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Actor, Requester, Trust
from omni_relay.domain.identity import slack as slack_user
from omni_relay.domain.model import CancelRequest, JobState, Outcome
from omni_relay.usecases.auth import SenderPolicy, SlackPolicy, policy_for
from omni_relay.usecases.authorized_omni import AuthorizedOmni
from tests.fakes import FakeOmni, FakeSecretStore, unavailable

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
ALICE = slack_user("T1", "U1", "C1")
ALLOW_T1 = SlackPolicy(AllowList.parse("T1"), AllowList.parse("*"), AllowList.parse("*"))


@pytest.mark.parametrize(
    ("status", "body", "outcome", "state"),
    [
        (200, {"jobId": JOB, "state": "CANCELLED"}, Outcome.CANCELLED, JobState.CANCELLED),
        (200, {"jobId": JOB, "state": "COMPLETE"}, Outcome.ALREADY_FINISHED, JobState.COMPLETE),
        (200, {"jobId": JOB, "state": "FAILED"}, Outcome.ALREADY_FINISHED, JobState.FAILED),
        (200, {"jobId": JOB, "state": "EXECUTING"}, Outcome.STOPPING, JobState.EXECUTING),
        (200, {"jobId": JOB, "state": "DELIVERING"}, Outcome.NOT_CANCELLABLE, JobState.DELIVERING),
        (200, {"jobId": JOB, "state": "PAUSED"}, Outcome.UNEXPECTED_REPLY, None),
        (200, {"jobId": JOB}, Outcome.UNEXPECTED_REPLY, None),
        # the brief's error shape ({error, message}) and the published one ({detail, status})
        (
            400,
            {"error": "400", "message": "Job is not in a cancellable state"},
            Outcome.NOT_CANCELLABLE,
            JobState.DELIVERING,
        ),
        (400, {"detail": "Invalid job ID format. Must be a valid UUID.", "status": 400}, Outcome.INVALID_JOB_ID, None),
        (400, {}, Outcome.UNEXPECTED_REPLY, None),
        (401, {"detail": "Unauthorized: Missing or invalid API key", "status": 401}, Outcome.KEY_REJECTED, None),
        (403, {"message": "Permission denied."}, Outcome.FORBIDDEN, None),
        (404, {"detail": "Job not found.", "status": 404}, Outcome.NOT_FOUND, None),
        (409, {}, Outcome.OMNI_BUSY, None),
        (429, {}, Outcome.OMNI_BUSY, None),
        (500, {}, Outcome.OMNI_UNAVAILABLE, None),
        (503, {}, Outcome.OMNI_UNAVAILABLE, None),
        (302, {}, Outcome.UNEXPECTED_REPLY, None),
    ],
)
def test_interpret(status: int, body: dict, outcome: Outcome, state: JobState | None):
    result = interpret(JOB, OmniReply(status, body))
    assert (result.kind, result.state) == (outcome, state)


def test_a_non_json_200_is_unexpected_not_success():
    assert interpret(JOB, OmniReply(200, {}, is_json=False)).kind is Outcome.UNEXPECTED_REPLY


def service(
    omni: FakeOmni, omni_secret: dict, policy: SenderPolicy = ALLOW_T1
) -> tuple[AuthorizedOmni, FakeSecretStore]:
    store = FakeSecretStore({"omni": omni_secret})
    return AuthorizedOmni(omni, store, "omni", lambda source: policy), store


def test_allow_listed_sender_cancels_with_the_org_key():
    omni = FakeOmni()
    svc, _ = service(omni, {"api_key": "org-key"})
    result = svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert result.kind is Outcome.CANCELLED
    assert omni.cancels == [("cancel", JOB, "org-key")]


def test_a_mapped_user_token_wins_over_the_org_key():
    omni = FakeOmni()
    svc, _ = service(omni, {"api_key": "org-key", "user_tokens": {"slack:T1:U1": "alice-pat"}})
    svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert omni.calls[0][2] == "alice-pat"


def test_a_sender_off_the_allow_list_never_reaches_omni():
    omni = FakeOmni()
    svc, _ = service(omni, {"api_key": "org-key"})
    stranger = slack_user("T9", "U9")
    result = svc.cancel(CancelRequest(JOB, stranger), Deadline.within(2))
    assert result.kind is Outcome.SENDER_NOT_ALLOWED
    assert omni.calls == []


def test_user_token_mode_refuses_users_without_a_token():
    omni = FakeOmni()
    svc, _ = service(omni, {"user_tokens": {"slack:T1:U2": "bob-pat"}})
    result = svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert result.kind is Outcome.SENDER_NOT_ALLOWED
    assert omni.calls == []


def test_nothing_configured_says_so():
    omni = FakeOmni()
    svc, _ = service(omni, {"api_key": ""})
    result = svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert result.kind is Outcome.NOT_CONFIGURED


def test_org_key_without_an_allow_list_is_not_configured():
    no_list = SlackPolicy(AllowList.parse(""), AllowList.parse("*"), AllowList.parse("*"))
    svc, _ = service(FakeOmni(), {"api_key": "org-key"}, no_list)
    assert svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2)).kind is Outcome.NOT_CONFIGURED


def test_a_401_rereads_the_key_once_and_retries_with_the_rotated_one():
    def answer(op: str, job: str, token: str) -> OmniReply:
        if token == "old-key":
            return OmniReply(401, {"detail": "Unauthorized"})
        return OmniReply(200, {"jobId": job, "state": "CANCELLED"})

    omni = FakeOmni(answer)
    svc, store = service(omni, {"api_key": "old-key"})
    svc.credentials()  # cached before the rotation
    store.values["omni"] = {"api_key": "new-key"}  # rotated in Secrets Manager
    result = svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert result.kind is Outcome.CANCELLED
    assert [token for _, _, token in omni.cancels] == ["old-key", "new-key"]


def test_a_401_with_an_unchanged_key_is_a_setup_problem_without_a_second_call():
    omni = FakeOmni(lambda op, job, token: OmniReply(401, {"detail": "Unauthorized"}))
    svc, store = service(omni, {"api_key": "dead-key"})
    result = svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2))
    assert result.kind is Outcome.KEY_REJECTED
    assert len(omni.cancels) == 1
    assert ("omni", True) in store.reads  # it did re-read the secret


def test_omni_unreachable_is_unavailable():
    svc, _ = service(FakeOmni(unavailable), {"api_key": "k"})
    assert svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2)).kind is Outcome.OMNI_UNAVAILABLE


def test_an_unreadable_omni_secret_is_reported_not_raised():
    svc, store = service(FakeOmni(), {"api_key": "k"})
    store.fail = "could not read secret omni (EndpointConnectionError)"
    assert svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2)).kind is Outcome.SETTINGS_UNAVAILABLE


@pytest.mark.parametrize("secret", [{"api_key": 7}, {"user_tokens": ["x"]}, {"user_tokens": {"T1:U1": 5}}])
def test_a_malformed_omni_secret_is_reported(secret: dict):
    svc, _ = service(FakeOmni(), secret)
    assert svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2)).kind is Outcome.SETTINGS_UNAVAILABLE


def test_an_invalid_job_id_never_reaches_omni():
    omni = FakeOmni()
    svc, _ = service(omni, {"api_key": "k"})
    assert svc.cancel(CancelRequest("not-a-uuid", ALICE), Deadline.within(2)).kind is Outcome.INVALID_JOB_ID
    assert omni.calls == []


def test_each_source_is_judged_by_its_own_allow_list_slacks_star_lets_no_github_sender_in():
    from tests.unit.conftest import make_settings

    settings = make_settings(SLACK_ALLOWED_TEAMS="*", GITHUB_ALLOWED="acme/data")
    omni = FakeOmni()
    store = FakeSecretStore({"omni": {"api_key": "org-key"}})
    svc = AuthorizedOmni(omni, store, "omni", lambda source: policy_for(settings, source))
    outsider = Requester("github", "mallory", scope="evil/repo", actor=Actor.MEMBER, ids=("github:id:9",))
    insider = Requester("github", "alice", scope="acme/data", actor=Actor.MEMBER, ids=("github:id:1",))
    assert svc.cancel(CancelRequest(JOB, outsider), Deadline.within(2)).kind is Outcome.SENDER_NOT_ALLOWED
    assert svc.cancel(CancelRequest(JOB, insider), Deadline.within(2)).kind is Outcome.CANCELLED
    assert svc.cancel(CancelRequest(JOB, ALICE), Deadline.within(2)).kind is Outcome.CANCELLED
    assert [call[2] for call in omni.cancels] == ["org-key", "org-key"]


def test_a_task_queued_before_the_upgrade_is_read_with_its_requester_and_reply_target():
    from omni_relay.domain.model import ReplyTarget
    from omni_relay.domain.tasks import CancelTask

    old_slack = (
        '{"job_id": "j1", "reply_to": "https://hooks.slack.com/x", "request_id": "r1", "source": "slack",'
        ' "requester": {"source": "slack", "user_id": "U1", "team_id": "T1", "channel_id": "C1", "display_name": "a"},'
        ' "thread": {}}'
    )
    old_github = (
        '{"job_id": "j2", "reply_to": "", "request_id": "r2", "source": "github", "thread": {"repo": "a/b",'
        ' "number": "4"}, "requester": {"source": "github", "user_id": "bob", "team_id": "github",'
        ' "channel_id": "a/b", "display_name": "bob"}}'
    )
    slack, github = CancelTask.from_json(old_slack), CancelTask.from_json(old_github)
    assert slack.requester == slack_user("T1", "U1", "C1")  # Slack signed who this is: rebuilt whole
    assert slack.reply == ReplyTarget(url="https://hooks.slack.com/x")
    # A webhook task from before the identity model carries no actor: the worker refuses it, never guesses.
    assert github.requester == Requester("github", "bob", scope="a/b", trust=Trust.SENDER)
    assert github.requester.principal == "github:sender" and not github.requester.member
    assert github.reply.thread == {"repo": "a/b", "number": "4"}
    assert CancelTask.from_json(github.to_json()) == github
