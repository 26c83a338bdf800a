"""A captured Slack command acts once: its signature is claimed in the store every execution environment
shares, as verification reads it (surrounding whitespace is not part of a signature)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import relay_app
from local.cloud.gateway import LambdaContext
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe
from tests.unit.conftest import NOW, SIGNING_SECRET, load_event, make_settings
from tools.signers.events import resign


def invoke(runtime: Runtime, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with in_use(runtime):
        result = relay_app.lambda_handler(event, LambdaContext())
    return result["statusCode"], json.loads(result["body"] or "{}")


def environment(secrets: FakeSecretStore, omni: FakeOmni, shared: MemoryDedupe) -> Runtime:
    """One execution environment: its own Runtime (its own memory), the table shared with every other."""
    return Runtime(make_settings(SENDER_RATE_LIMIT_PER_MIN="0"), secrets, omni, dedupe=shared, now=lambda: NOW)


@pytest.mark.parametrize("padding", [" ", "\t", "  \t", "\u00a0"])
def test_the_same_command_with_whitespace_around_its_signature_is_refused(
    secrets: FakeSecretStore, omni: FakeOmni, padding: str
):
    runtime = environment(secrets, omni, MemoryDedupe())
    captured = resign(load_event("slack_command_cancel.json"), SIGNING_SECRET, NOW)
    padded = dict(captured, headers={**captured["headers"]})
    padded["headers"]["x-slack-signature"] += padding
    assert invoke(runtime, captured)[0] == 200
    status, reply = invoke(runtime, padded)
    assert (status, reply.get("error")) == (401, "replayed_request")
    assert len(omni.cancels) == 1


def test_a_captured_command_acts_once_across_execution_environments(secrets: FakeSecretStore, omni: FakeOmni):
    shared = MemoryDedupe()
    environments = [environment(secrets, omni, shared) for _ in range(4)]
    captured = resign(load_event("slack_command_cancel.json"), SIGNING_SECRET, NOW)
    answers = [invoke(runtime, captured) for runtime in environments]
    assert [status for status, _ in answers] == [200, 401, 401, 401]
    assert {reply.get("error") for _, reply in answers[1:]} == {"replayed_request"}
    assert len(omni.cancels) == 1
    assert list(shared.seen.values()) == [660]  # Slack's 300 s either side of its timestamp, and a minute of skew


def test_the_replay_checks_signature_is_aws_signature_version_4_as_botocore_computes_it():
    """aws_json signs without boto3 (Slack's hot path never imports it): the same request, signed by
    botocore's own SigV4 signer, has the same Authorization header."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from omni_relay.adapters.aws_json import sigv4_headers

    url, body = "https://dynamodb.eu-west-1.amazonaws.com/", b'{"TableName": "t"}'
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem"}
    keys = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    for _ in range(3):  # both signed within the same second (botocore takes the time itself)
        now = time.time()
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(Credentials(*keys), "dynamodb", "eu-west-1").add_auth(request)
        if int(time.time()) == int(now):
            break
    ours = sigv4_headers(
        url=url, body=body, headers=headers, region="eu-west-1", service="dynamodb", credentials=keys, now=now
    )
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-security-token"] == "session-token"


# Slack signs "v0:{timestamp}:{body}", not the route: a body signed for one Slack route, sent to
# another with another (unsigned) Content-Type, must not be read as that route's request. A
# link_shared event whose link the attacker wrote carries `&field=value` pairs in its JSON, which
# a form parser would take as a command's or a click's fields under an identity Slack never vouched for.
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


def _smuggled_link(route: str) -> str:
    from urllib.parse import quote

    if route == "/slack/commands":
        fields = f"team_id=T0LOCAL01&user_id=U0ATTACK1&channel_id=C0LOCAL01&command=/omni-cancel&text={JOB}"
    else:
        click = {
            "type": "block_actions",
            "team": {"id": "T0LOCAL01"},
            "user": {"id": "U0ATTACK1", "team_id": "T0LOCAL01"},
            "channel": {"id": "C0LOCAL01"},
            "response_url": "https://hooks.slack.com/actions/T0LOCAL01/1/x",
            "actions": [{"action_id": "omni_cancel_job", "value": JOB, "action_ts": "9.9"}],
        }
        fields = "payload=" + quote(json.dumps(click, separators=(",", ":")), safe="")
    return f"https://acme.omniapp.co/chat/1?x=1&{fields}&y=1"


@pytest.mark.parametrize("lead", ["", "\ufeff", "\u200b", "\x00"], ids=["plain", "bom", "zwsp", "nul"])
@pytest.mark.parametrize("route", ["/slack/commands", "/slack/interactions"])
def test_a_signed_event_sent_to_a_form_route_is_refused_not_read_as_a_command(
    secrets: FakeSecretStore, omni: FakeOmni, route: str, lead: str
):
    from local.cloud.gateway import http_api_event
    from omni_relay.adapters.postback import AllowedHosts, PostBack
    from tests.fakes import RecordingHttp
    from tools.signers.slack import events_api, link_shared, sign

    settings = make_settings(SENDER_RATE_LIMIT_PER_MIN="0")
    postback = PostBack(AllowedHosts.parse(), http=RecordingHttp())  # a click's answer goes nowhere real
    runtime = Runtime(settings, secrets, omni, postback=postback, dedupe=MemoryDedupe(), now=lambda: NOW)
    headers, body = events_api(
        link_shared([_smuggled_link(route)], user_id="U0POSTER1"), secret=SIGNING_SECRET, timestamp=NOW
    )
    body = lead.encode() + body  # bytes before the JSON that a first-character check would not see
    headers["X-Slack-Signature"] = sign(SIGNING_SECRET, body, NOW)
    headers["Content-Type"] = "application/x-www-form-urlencoded"  # not signed: the attacker's to choose
    event = http_api_event("POST", route, headers, body, arrival_ms=NOW * 1000)
    status, reply = invoke(runtime, event)
    assert status == 400 and reply["error"] == "malformed_request", reply
    assert omni.cancels == []
