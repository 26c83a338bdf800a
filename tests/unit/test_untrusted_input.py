"""Bounded parsing of every untrusted input, sized for what real senders send: a body limit that
takes a GitHub comment on an issue holding a pasted log, JSON nested no deeper than MAX_JSON_DEPTH
(deeper is a 400 JSON error, never a RecursionError and a 500), in webhook bodies and in Slack's
interaction payloads alike."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from local.cloud.gateway import http_api_event
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore
from tests.unit.conftest import NOW, SIGNING_SECRET, make_settings
from tests.unit.test_webhooks import JOB, build, event, invoke_on
from tools.signers.slack import sign as slack_sign
from tools.signers.webhooks import github_comment_on_a_long_issue

MAX_JSON_DEPTH = 64  # the documented maximum (README, Limits)


def nested(depth: int, inner: Any = 1) -> Any:
    """A JSON value whose arrays and objects nest `depth` levels deep (alternating, as real payloads do)."""
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def deep_text(depth: int, *, arrays: bool = False) -> str:
    # Built as text: json.dumps of a value 10,000 deep would itself hit the recursion limit.
    return "[" * depth + "]" * depth if arrays else '{"a":' * depth + "1" + "}" * depth


def test_a_github_comment_on_an_issue_holding_a_long_log_cancels(omni: FakeOmni):
    runtime, _, _ = build(omni)
    body = github_comment_on_a_long_issue(JOB, now=NOW)
    assert len(json.dumps(body).encode()) == 73_797
    [(status, reply)] = invoke_on(runtime, event("github", body=body))
    assert (status, reply.get("outcome")) == (200, "cancelled"), reply
    assert len(omni.cancels) == 1


def test_the_default_body_limit_is_at_least_a_mebibyte_and_bodies_beyond_it_are_413(omni: FakeOmni):
    limit = make_settings().max_body_bytes
    assert limit >= 1024 * 1024
    runtime, _, _ = build(omni)
    over = {"jobId": JOB, "requestedBy": "x" * limit}
    [(status, reply)] = invoke_on(runtime, event("standard", body=over))
    assert (status, reply["error"]) == (413, "payload_too_large") and omni.cancels == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 10_000])
def test_a_signed_webhook_nested_too_deep_is_a_400_json_error(omni: FakeOmni, depth: int):
    runtime, _, _ = build(omni)
    body = '{"jobId": "' + JOB + '", "requestedBy": "x", "source": "s", "extra": ' + deep_text(depth - 1) + "}"
    [(status, reply)] = invoke_on(runtime, event("standard", body=None, raw_body=body.encode()))
    assert (status, reply["error"]) == (400, "malformed_request"), reply
    assert f"deeper than {MAX_JSON_DEPTH}" in reply["message"]
    assert omni.cancels == []


def test_a_webhook_nested_to_the_maximum_is_read(omni: FakeOmni):
    runtime, _, _ = build(omni)
    body = {"jobId": JOB, "requestedBy": "x", "source": "s", "extra": nested(MAX_JSON_DEPTH - 1)}
    [(status, reply)] = invoke_on(runtime, event("standard", body=body))
    assert status == 200 and reply["outcome"] == "cancelled", reply


def interaction(payload_text: str) -> dict[str, Any]:
    body = urlencode({"payload": payload_text}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(NOW),
        "X-Slack-Signature": slack_sign(SIGNING_SECRET, body, NOW),
    }
    return http_api_event("POST", "/slack/interactions", headers, body, arrival_ms=NOW * 1000)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 10_000])
def test_a_signed_slack_interaction_nested_too_deep_is_a_400_json_error(
    secrets: FakeSecretStore, omni: FakeOmni, depth: int
):
    from tests.unit.test_slack_replays import invoke

    runtime = Runtime(make_settings(), secrets, omni, now=lambda: NOW)
    # Arrays: 10,000 levels of them fit in 64 KB of form, as Slack would send them.
    payload = '{"type": "block_actions", "actions": [], "view": ' + deep_text(depth - 1, arrays=True) + "}"
    status, reply = invoke(runtime, interaction(payload))
    assert (status, reply.get("error")) == (400, "malformed_request"), reply
    assert f"deeper than {MAX_JSON_DEPTH}" in reply["message"]
