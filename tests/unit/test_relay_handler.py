"""The relay's Lambda handler end to end in-process: events/ files in, API Gateway responses out."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

import relay_app
from local.cloud.gateway import LambdaContext
from omni_relay import wiring
from omni_relay.adapters.omni import OmniReply
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore, MemoryQueue
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, load_event, make_settings
from tools.signers.events import resign

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


@pytest.fixture(autouse=True)
def _use(runtime: Runtime, use_runtime):
    use_runtime(runtime)


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = relay_app.lambda_handler(event, LambdaContext())
    return result["statusCode"], json.loads(result["body"] or "{}")


def signed(name: str, secret: str = SIGNING_SECRET, timestamp: int = NOW) -> dict[str, Any]:
    return resign(load_event(name), secret, timestamp)


def text_of(reply: dict[str, Any]) -> str:
    return " ".join(b["text"]["text"] for b in reply["blocks"] if b["type"] == "section")


def test_a_signed_command_cancels_and_answers_ephemerally(omni: FakeOmni):
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200
    assert reply["response_type"] == "ephemeral"
    assert "Cancelled" in text_of(reply) and JOB in text_of(reply)
    assert omni.cancels == [("cancel", JOB, OMNI_KEY)]


def test_a_job_url_works_like_its_id(omni: FakeOmni):
    status, _ = invoke(signed("slack_command_url.json"))
    assert status == 200
    assert omni.cancels[0][1] == JOB


def test_help_shows_usage_without_calling_omni(omni: FakeOmni):
    status, reply = invoke(signed("slack_command_help.json"))
    assert status == 200 and "cancels a running Omni AI job" in text_of(reply)
    assert omni.cancels == []


def test_ssl_check_is_answered_200():
    status, _ = invoke(load_event("slack_ssl_check.json"))
    assert status == 200


def test_the_plain_text_body_form_also_verifies(omni: FakeOmni):
    event = signed("slack_command_cancel.json")
    event["body"] = base64.b64decode(event["body"]).decode()
    event["isBase64Encoded"] = False
    assert invoke(event)[0] == 200
    assert len(omni.cancels) == 1


def test_a_forged_signature_is_401_json_and_never_reaches_omni(omni: FakeOmni):
    status, reply = invoke(signed("slack_command_cancel.json", secret="forged"))
    assert status == 401 and reply["error"] == "invalid_signature"
    assert omni.cancels == []


def test_a_replayed_request_is_401(omni: FakeOmni):
    status, reply = invoke(signed("slack_command_cancel.json", timestamp=NOW - 301))
    assert status == 401 and reply["error"] == "stale_request"
    assert omni.cancels == []


def test_a_tampered_body_is_401(omni: FakeOmni):
    event = signed("slack_command_cancel.json")
    body = base64.b64decode(event["body"]).replace(b"U0LOCAL01", b"U0ADMIN01")
    event["body"] = base64.b64encode(body).decode()
    assert invoke(event)[0] == 401
    assert omni.cancels == []


def test_invalid_base64_is_400():
    event = signed("slack_command_cancel.json")
    event["body"] = "%%%not base64%%%"
    status, reply = invoke(event)
    assert status == 400 and reply["error"] == "malformed_request"


def test_an_oversized_body_is_413(runtime: Runtime):
    event = signed("slack_command_cancel.json")
    event["body"] = base64.b64encode(b"a" * (runtime.settings.max_body_bytes + 1)).decode()
    assert invoke(event)[0] == 413


def test_a_signed_non_form_body_is_415(runtime: Runtime):
    event = signed("slack_command_cancel.json")
    event["headers"]["content-type"] = "application/json"
    assert invoke(event)[0] == 415


def test_a_signed_form_without_user_is_400():
    event = signed("slack_command_cancel.json")
    event["body"] = base64.b64encode(b"team_id=T1&text=x").decode()
    event = resign(event, SIGNING_SECRET, NOW)
    assert invoke(event)[0] == 400


def test_unknown_routes_are_404_json():
    event = signed("slack_command_cancel.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    status, reply = invoke(event)
    assert status == 404 and reply["error"] == "not_found"


def test_an_unreadable_signing_secret_gives_slack_a_friendly_200(secrets: FakeSecretStore, omni: FakeOmni):
    secrets.fail = "could not read secret slack (EndpointConnectionError)"
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and "cannot read its Slack settings" in reply["text"]
    assert omni.cancels == []


def test_a_misconfigured_relay_says_so_to_slack(monkeypatch: pytest.MonkeyPatch):
    wiring.use(None)
    monkeypatch.delenv("OMNI_BASE_URL", raising=False)
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and "misconfigured" in reply["text"]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (OmniReply(200, {"state": "CANCELLED"}), "Cancelled"),
        (OmniReply(200, {"state": "COMPLETE"}), "already finished"),
        (OmniReply(200, {"state": "EXECUTING"}), "stop it after its current step"),
        (OmniReply(400, {"detail": "Job is not in a cancellable state"}), "delivering its results"),
        (OmniReply(403, {}), "only the job's owner or an Omni org admin"),
        (OmniReply(404, {}), "No job"),
        (OmniReply(401, {}), "setup problem"),
        (OmniReply(429, {}), "rate-limiting"),
        (OmniReply(503, {}), "did not respond in time"),
    ],
)
def test_each_omni_outcome_has_its_own_plain_message(omni: FakeOmni, answer: OmniReply, words: str):
    omni.answer = lambda op, job, token: answer
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and words in text_of(reply)


def test_no_secret_appears_in_any_log_line_or_reply(
    capsys: pytest.CaptureFixture[str], log_lines: io.StringIO, omni: FakeOmni, use_runtime
):
    runtime = Runtime(
        make_settings(),
        FakeSecretStore(
            {
                "slack": {"signing_secrets": [SIGNING_SECRET]},
                "omni": {"api_key": OMNI_KEY, "user_tokens": {"T0LOCAL01:U0LOCAL01": "pat-secret-3b7e"}},
            }
        ),
        omni,
        now=lambda: NOW,
    )
    use_runtime(runtime)
    replies = []
    for answer in (OmniReply(401, {}), OmniReply(200, {"state": "CANCELLED"}), OmniReply(500, {})):
        omni.answer = lambda op, job, token, a=answer: a
        replies.append(invoke(signed("slack_command_cancel.json")))
    replies.append(invoke(signed("slack_command_cancel.json", secret="forged")))
    captured = capsys.readouterr()
    everything = log_lines.getvalue() + captured.out + captured.err + json.dumps(replies)
    assert "cancel answered" in log_lines.getvalue() and "invalid_signature" in log_lines.getvalue()
    for secret in (SIGNING_SECRET, OMNI_KEY, "pat-secret-3b7e"):
        assert secret not in everything


def test_a_slow_omni_is_handed_off_and_the_user_told_so(secrets: FakeSecretStore, omni: FakeOmni, use_runtime):
    queue = MemoryQueue()
    omni.answer = lambda op, job, token: OmniReply(503, {})
    use_runtime(Runtime(make_settings(), secrets, omni, queue=queue, now=lambda: NOW))
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and "I will post the result here" in text_of(reply)
    assert len(queue.tasks) == 1


def test_when_the_queue_is_down_nothing_is_promised(secrets: FakeSecretStore, omni: FakeOmni, use_runtime):
    omni.answer = lambda op, job, token: OmniReply(503, {})
    use_runtime(
        Runtime(make_settings(), secrets, omni, queue=MemoryQueue(fail="EndpointConnectionError"), now=lambda: NOW)
    )
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and "did not respond in time" in text_of(reply)
    assert "post the result" not in text_of(reply)


def test_before_anyone_is_allowed_the_first_person_is_told_their_ids(
    secrets: FakeSecretStore, omni: FakeOmni, use_runtime
):
    """A first deploy leaves SlackAllowedTeams empty: whoever tries first reads the team and user ids
    the operator needs (`make configure SlackAllowedTeams=T…`), and Omni is not called."""
    use_runtime(Runtime(make_settings(SLACK_ALLOWED_TEAMS=""), secrets, omni, now=lambda: NOW))
    status, reply = invoke(signed("slack_command_cancel.json"))
    assert status == 200 and "not set up" in text_of(reply)
    assert "team id `T0LOCAL01` and user id `U0LOCAL01`" in text_of(reply)
    assert omni.cancels == []
