"""Every parser, on anything: it answers or raises the relay's own request error, nothing else."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from omni_relay.adapters.omni import parse_retry_after
from omni_relay.adapters.postback import AllowedHosts
from omni_relay.domain.allowlists import SenderList
from omni_relay.domain.grammar import parse_texts
from omni_relay.domain.identity import Actor, Requester
from omni_relay.domain.jobref import is_job_id
from omni_relay.domain.timestamps import unix_seconds
from omni_relay.errors import ConfigError, RelayError
from omni_relay.settings import Settings
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import whsec_key
from omni_relay.sources.slack import ButtonClick, parse_form
from omni_relay.sources.webhook import parse_json, search

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(st.text(max_size=500))
def test_job_ids_found_in_any_text_are_canonical(text: str):
    found = parse_texts([text], "/omni-cancel", "acme.omniapp.co")
    assert found is None or found.job_id == "" or (is_job_id(found.job_id) and found.job_id in text.lower())


@given(st.binary(max_size=2000))
def test_form_bodies(body: bytes):
    try:
        fields = parse_form(body)
    except RelayError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


@given(
    st.dictionaries(st.text(max_size=10), st.text(max_size=200), max_size=5)
    | st.fixed_dictionaries({"payload": st.text(max_size=300)})
)
def test_slack_interaction_payloads(form: dict[str, str]):
    with contextlib.suppress(RelayError):
        ButtonClick.from_form(form)


@given(st.binary(max_size=2000))
def test_json_bodies(body: bytes):
    with contextlib.suppress(RelayError):
        assert isinstance(parse_json(body), dict)


@given(st.text(max_size=20), st.text(max_size=20))
def test_timestamps_and_retry_after(value: str, other: str):
    seconds = unix_seconds(value)
    assert seconds is None or (seconds >= 0 and value.strip().isascii())
    wait = parse_retry_after(other, now=lambda: 1_795_000_000.0)
    assert wait is None or wait >= 0


@given(st.text(max_size=60))
def test_whsec_secrets(secret: str):
    with contextlib.suppress(ValueError):
        assert isinstance(whsec_key(secret), bytes)


@given(st.text(max_size=80), anything)
def test_jmespath_configuration_is_checked_at_start_and_never_breaks_a_request(expression: str, payload: Any):
    base = {"OMNI_BASE_URL": "https://acme.omniapp.co/api", "OMNI_SECRET_ID": "o", "SLACK_SECRET_ID": "s"}
    try:
        settings = Settings.from_env({**base, "GITHUB_JOB_ID_PATH": expression})
    except ConfigError:
        return
    path = settings.job_id_path("github")
    if path and isinstance(payload, dict):
        search(path, payload)  # a valid expression on any payload: a value or None, never an exception


@given(st.text(max_size=100), st.text(max_size=20), st.text(max_size=20))
def test_sender_lists(raw: str, scope: str, user: str):
    who = Requester("github", scope=scope, actor=Actor.MEMBER, ids=(f"github:login:{user}",))
    assert isinstance(SenderList.parse(raw, "github").refusal(who), str)
    assert SenderList.parse("", "github").refusal(who)


@given(st.text(max_size=200))
def test_post_back_urls(url: str):
    assert isinstance(AllowedHosts.parse("example.com").allows(url), bool)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "body": st.text(max_size=300) | st.none() | st.integers(),
            "isBase64Encoded": st.booleans(),
            "headers": st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=5),
            "requestContext": st.fixed_dictionaries({}, optional={"timeEpoch": st.integers() | st.text(max_size=5)}),
        },
    ),
    st.booleans(),
)
def test_inbound_requests(event: dict[str, Any], encode: bool):
    if encode and isinstance(event.get("body"), str):
        event["body"] = base64.b64encode(event["body"].encode("utf-8", "surrogatepass")).decode()
    try:
        request = InboundRequest.from_event(event, 1024)
    except RelayError:
        return
    assert len(request.body) <= 1024 and all(k == k.lower() for k in request.headers)
