"""Two invariants of issue-grade security, driven with generated requests:

- a replayed authentic request (the same signed bytes, whatever its unsigned headers say) never
  causes a second Omni call;
- the job cancelled is always the one written right after the command word, whatever comes
  before it (other job ids, URLs, case folds) or after it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import relay_app
from local.cloud.gateway import LambdaContext, http_api_event
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe, RecordingHttp
from tests.fuzz.test_fuzz_routes import (
    ALLOWED_SCOPE,
    ALLOWED_TEAM,
    NOW,
    OMNI_KEY,
    SLACK_SECRET,
    WEBHOOK_SECRETS,
    hostile_text,
    slack_form,
)
from tests.unit.conftest import make_settings
from tools.signers.slack import sign as slack_sign
from tools.signers.webhooks import payload as vendor_payload
from tools.signers.webhooks import sign as vendor_sign

FREE_TEXT = ["github", "jira", "zendesk", "pagerduty", "linear", "teams"]
COMMAND = "/omni-cancel"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[FakeOmni, dict[str, int]]]:
    omni = FakeOmni()
    store = FakeSecretStore(
        {
            "slack": {"signing_secrets": [SLACK_SECRET]},
            "omni": {"api_key": OMNI_KEY},
            "webhooks": {s: {"secrets": [v]} for s, v in WEBHOOK_SECRETS.items()},
        }
    )
    env = {f"{s.upper()}_ALLOWED": f"{ALLOWED_SCOPE}:*" for s in WEBHOOK_SECRETS}
    settings = make_settings(
        SLACK_ALLOWED_TEAMS=ALLOWED_TEAM, WEBHOOK_SECRET_ID="webhooks", SENDER_RATE_LIMIT_PER_MIN="0", **env
    )
    runtime = Runtime(
        settings,
        store,
        omni,
        postback=PostBack(AllowedHosts.parse(), http=RecordingHttp()),
        dedupe=MemoryDedupe(),
        now=lambda: NOW,
    )
    with in_use(runtime):
        yield omni, {"acted": 0}


def send(event: dict[str, Any]) -> dict[str, Any]:
    result = relay_app.lambda_handler(event, LambdaContext())
    assert result["statusCode"] < 500, result
    return result


def without_command_word(text: str) -> str:
    return re.sub(re.escape(COMMAND), "", text, flags=re.IGNORECASE)


def slack_command(text: str) -> dict[str, Any]:
    fields = {"team_id": ALLOWED_TEAM, "user_id": "U0FUZZ", "channel_id": "C1", "command": COMMAND, "text": text}
    body = slack_form({**fields, "trigger_id": uuid.uuid4().hex})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(NOW),
        "X-Slack-Signature": slack_sign(SLACK_SECRET, body, NOW),
    }
    return http_api_event("POST", "/slack/commands", headers, body, arrival_ms=NOW * 1000)


def webhook(source: str, text: str, delivery_id: str) -> dict[str, Any]:
    body = json.dumps(vendor_payload(source, "", user="fuzz-user", scope=ALLOWED_SCOPE, text=text, now=NOW)).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(vendor_sign(source, body, WEBHOOK_SECRETS[source], now=NOW, delivery_id=delivery_id))
    if source == "github":
        headers["X-GitHub-Event"] = "issue_comment"
    return http_api_event("POST", f"/webhooks/{source}", headers, body, arrival_ms=NOW * 1000)


surroundings = st.one_of(
    hostile_text, st.uuids().map(str), st.uuids().map(lambda u: f"https://x.omniapp.co/api/v1/ai/jobs/{u}")
)
before = st.lists(surroundings, max_size=3).map(lambda parts: without_command_word(" ".join(parts)))
after = st.lists(surroundings, max_size=3).map(" ".join)
command_word = st.sampled_from([COMMAND, COMMAND.upper(), "/Omni-Cancel"])


@given(
    source=st.sampled_from(["slack", *FREE_TEXT]),
    job=st.uuids().map(str),
    prefix=before,
    word=command_word,
    suffix=after,
)
def test_the_job_cancelled_is_the_one_right_after_the_command_word(world, source, job, prefix, word, suffix):
    omni, stats = world
    calls = len(omni.cancels)
    if source == "slack":
        event = slack_command(f"{job} {suffix}")  # the command word is Slack's own
    elif source == "teams":
        event = webhook(source, f"{job} {suffix}", uuid.uuid4().hex)  # the @mention is the command
    else:
        event = webhook(source, f"{prefix} {word} {job} {suffix}", uuid.uuid4().hex)
    send(event)
    new = omni.cancels[calls:]
    assert [call[1] for call in new] in ([], [job.lower()]), (source, new)
    stats["acted"] += len(new)


@given(
    source=st.sampled_from(["slack", *FREE_TEXT, "standard"]),
    job=st.uuids().map(str),
    ids=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3),
)
def test_a_replayed_authentic_request_never_reaches_omni_twice(world, source, job, ids):
    omni, stats = world
    if source == "slack":
        first = slack_command(job)
        # The same signed bytes; the signature as sent, or with whitespace around it (verification strips it).
        signature = first["headers"]["x-slack-signature"]
        pads = ["", " ", "\t", " \t", "\u00a0"]
        replays = [
            {**first, "headers": {**first["headers"], "x-slack-signature": signature + pads[len(d) % 5]}} for d in ids
        ]
    else:
        text = f"{COMMAND} {job}" if source != "teams" else job
        first = webhook(source, text, "original")
        # The same signed bytes, under other delivery ids (unsigned headers) or with none at all.
        replays = [{**first, "headers": {**first["headers"], **_delivery_headers(d)}} for d in ids]
    if source == "standard":
        body = json.dumps({"jobId": job, "requestedBy": "fuzz-user", "source": ALLOWED_SCOPE}).encode()
        first = http_api_event(
            "POST",
            "/webhooks/standard",
            {
                "Content-Type": "application/json",
                **vendor_sign(source, body, WEBHOOK_SECRETS[source], now=NOW, delivery_id="msg_1"),
            },
            body,
            arrival_ms=NOW * 1000,
        )
        replays = [first for _ in ids]
    calls = len(omni.cancels)
    send(first)
    acted = len(omni.cancels) - calls
    for replay in replays:
        send(replay)
    assert len(omni.cancels) - calls == acted <= 1, source
    stats["acted"] += acted


def _delivery_headers(delivery_id: str) -> dict[str, str]:
    return {
        "X-GitHub-Delivery": delivery_id,
        "X-Atlassian-Webhook-Identifier": delivery_id,
        "X-Zendesk-Webhook-Invocation-Id": delivery_id,
        "X-Webhook-Id": delivery_id,
    }


def test_the_properties_were_not_vacuous(world):
    """Most generated requests were authentic and allowed, and reached Omni."""
    _, stats = world
    assert stats["acted"] > 20, stats
