"""The relay's own limits: a per-sender rate limit that answers before Omni's limit is reached, and
a cap on header size (body size: test_relay_handler)."""

from __future__ import annotations

import base64
import json
from typing import Any

import relay_app
from local.cloud.gateway import LambdaContext
from omni_relay.adapters.ratelimit import SenderRateLimit
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore
from tests.unit.conftest import NOW, SIGNING_SECRET, load_event, make_settings
from tools.signers.events import resign, webhook_event

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


def invoke(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    with in_use(runtime):
        return relay_app.lambda_handler(event, LambdaContext())


def test_the_bucket_refills_over_the_minute():
    now = [0.0]
    limit = SenderRateLimit(3, clock=lambda: now[0])
    assert [limit.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.wait_s("a") == 20.0  # one token comes back every 60/3 s
    assert limit.wait_s("b") == 0.0  # senders do not share a bucket
    now[0] = 20.0
    assert limit.wait_s("a") == 0.0
    assert SenderRateLimit(0).wait_s("a") == 0.0  # 0 turns it off


def test_a_slack_sender_over_the_limit_is_told_kindly_and_omni_is_not_called(secrets: FakeSecretStore, omni: FakeOmni):
    runtime = Runtime(make_settings(SENDER_RATE_LIMIT_PER_MIN="2"), secrets, omni, now=lambda: NOW)
    event = load_event("slack_command_cancel.json")
    replies = [invoke(runtime, resign(event, SIGNING_SECRET, NOW - i)) for i in range(3)]  # three commands
    assert [r["statusCode"] for r in replies] == [200, 200, 200]  # Slack shows anything else as an error
    assert "faster than this relay allows" in json.loads(replies[2]["body"])["text"]
    # The second is answered from the relay's record of the first (the job was cancelled a moment ago).
    assert len(omni.cancels) == 1 and "already cancelled" in json.loads(replies[1]["body"])["text"]


def test_a_webhook_sender_over_the_limit_gets_429_with_retry_after(omni: FakeOmni):
    whsec = "whsec_" + base64.b64encode(b"limits-unit-signing-key-0123456!").decode()
    store = FakeSecretStore({"omni": {"api_key": "k"}, "slack": {}, "webhooks": {"standard": {"secrets": [whsec]}}})
    settings = make_settings(WEBHOOK_SECRET_ID="webhooks", STANDARD_ALLOWED="*", SENDER_RATE_LIMIT_PER_MIN="1")
    runtime = Runtime(settings, store, omni, now=lambda: NOW)
    first = invoke(runtime, webhook_event("standard", JOB, timestamp=NOW, secret=whsec))
    second = invoke(runtime, webhook_event("standard", JOB, timestamp=NOW, secret=whsec))
    assert first["statusCode"] == 200 and second["statusCode"] == 429
    assert second["headers"]["Retry-After"] == "60"
    assert json.loads(second["body"])["outcome"] == "rate_limited"
    assert len(omni.cancels) == 1  # the second never reached Omni


def test_oversized_headers_are_431(runtime: Runtime, omni: FakeOmni):
    event = resign(load_event("slack_command_cancel.json"), SIGNING_SECRET, NOW)
    event["headers"]["x-padding"] = "a" * 9000
    reply = invoke(runtime, event)
    assert reply["statusCode"] == 431 and json.loads(reply["body"])["error"] == "headers_too_large"
    assert omni.cancels == []
