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
