"""Every webhook source through the relay's handler in-process: vendors' test vectors, a real-shaped
delivery per source, the comment each vendor's API expects, the signed callback, and every rejection."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import relay_app
from local.cloud.gateway import LambdaContext
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.domain.allowlists import SenderList
from omni_relay.domain.identity import Actor, Requester
from omni_relay.errors import ConfigError, InvalidSignature, StaleRequest
from omni_relay.presentation.messages import RELAY_MARK
from omni_relay.sources.base import SourceConfig
from omni_relay.sources.registry import WEBHOOK_SOURCES, webhook_source
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.signing import standard_signature, whsec_key
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe, MemoryQueue, RecordingHttp
from tests.unit.conftest import NOW, OMNI_KEY, make_settings
from tools.signers.events import webhook_event
from tools.signers.webhooks import DEV_TOKENS, secret_entry, secrets_for

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
CALLBACK = "https://hooks.acme.example/omni-results"
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"unit-test-callback-signing-key!!").decode()
SECRETS = secrets_for("unit")
API = {
    "github": {"api_token": "ghp_unit_token"},
    "jira": {"site_url": "https://acme.atlassian.net", "email": "relay@acme.example", "api_token": "jira-unit-tok"},
    "zendesk": {"site_url": "https://acme.zendesk.com", "email": "relay@acme.example", "api_token": "zd-unit-tok"},
    "pagerduty": {"api_token": "pd-unit-tok", "email": "relay@acme.example"},
    "linear": {"api_token": "lin_api_unit"},
}
# What each vendor's API documentation gives for "comment on this": method, URL, auth header, body check.
COMMENTS = {
    "github": (
        "POST",
        "https://api.github.com/repos/acme/data-platform/issues/42/comments",
        "Bearer ghp_unit_token",
        lambda b, t: b == {"body": t},
    ),
    "jira": (
        "POST",
        "https://acme.atlassian.net/rest/api/3/issue/DATA-7/comment",
        "Basic " + base64.b64encode(b"relay@acme.example:jira-unit-tok").decode(),
        lambda b, t: (
            b["body"]["type"] == "doc"
            and "\n".join(n["text"] for p in b["body"]["content"] for n in p["content"]) == t
            and b["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]  # customers never see it
        ),
    ),
    "zendesk": (
        "PUT",
        "https://acme.zendesk.com/api/v2/tickets/5158.json",
        "Basic " + base64.b64encode(b"relay@acme.example/token:zd-unit-tok").decode(),
        lambda b, t: b == {"ticket": {"comment": {"body": t, "public": False}}},
    ),
    "pagerduty": (
        "POST",
        "https://api.pagerduty.com/incidents/PGR0VU2/notes",
        "Token token=pd-unit-tok",
        lambda b, t: b == {"note": {"content": t}},
    ),
    "linear": (
        "POST",
        "https://api.linear.app/graphql",
        "lin_api_unit",
        lambda b, t: (
            "commentCreate" in b["query"]
            and b["variables"]["input"] == {"issueId": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", "body": t}
        ),
    ),
}


def webhooks_secret() -> dict[str, Any]:
    value: dict[str, Any] = {s: {**secret_entry(s, v), **API.get(s, {})} for s, v in SECRETS.items()}
    value["callback"] = {"secrets": [CALLBACK_SECRET]}
    return value


def build(
    omni: FakeOmni, queue: MemoryQueue | None = None, **env: str
) -> tuple[Runtime, RecordingHttp, FakeSecretStore]:
    store = FakeSecretStore(
        {"slack": {"signing_secrets": ["x"]}, "omni": {"api_key": OMNI_KEY}, "webhooks": webhooks_secret()}
    )
    base = {
        "WEBHOOK_SECRET_ID": "webhooks",
        "CALLBACK_URL": CALLBACK,
        "POSTBACK_HOSTS": "acme.atlassian.net,acme.zendesk.com",
    }
    base.update({f"{s.upper()}_ALLOWED": "*" for s in SECRETS})
    base["JIRA_ALLOWED"] = "*,*:sender"  # members anywhere, and the Automation rule holding the token
    settings = make_settings(**{**base, **env})
    http = RecordingHttp()
    postback = PostBack(AllowedHosts.parse(f"{settings.postback_hosts},hooks.acme.example"), http=http)
    runtime = Runtime(settings, store, omni, queue=queue, postback=postback, dedupe=MemoryDedupe(), now=lambda: NOW)
    return runtime, http, store


@pytest.fixture
def stack(omni: FakeOmni, use_runtime) -> tuple[Runtime, RecordingHttp]:
    runtime, http, _ = build(omni)
    use_runtime(runtime)
    return runtime, http


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = relay_app.lambda_handler(event, LambdaContext())
    return result["statusCode"], json.loads(result["body"] or "{}")


def invoke_on(runtime: Runtime, *events: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    with in_use(runtime):
        return [invoke(e) for e in events]


def event(source: str, *, secret: str | None = None, **options: Any) -> dict[str, Any]:
    return webhook_event(source, JOB, timestamp=NOW, secret=secret or SECRETS[source], **options)


# -- vendors' published test vectors ----------------------------------------------------------


def test_github_signature_matches_githubs_published_vector():
    request = InboundRequest(
        b"Hello, World!",
        {"x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
    )
    source = webhook_source("github")
    assert source is not None
    source.verify(request, SourceConfig(("It's a Secret to Everybody",)), NOW)
    with pytest.raises(InvalidSignature):
        source.verify(request, SourceConfig(("It's a secret to everybody",)), NOW)


def test_standard_webhooks_signature_matches_the_specifications_vector():
    key = whsec_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signed = standard_signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    source = webhook_source("standard")
    assert source is not None
    request = InboundRequest(
        b'{"test": 2432232314}',
        {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            # Several signatures, space-separated, as during a rotation: any one may match.
            "webhook-signature": "v1,bm9wZQ== " + signed,
        },
    )
    source.verify(request, SourceConfig(("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",)), 1614265330)
    with pytest.raises(StaleRequest):
        source.verify(request, SourceConfig(("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",)), 1614265330 + 301)


# -- a real-shaped delivery per source -------------------------------------------------------


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_each_source_cancels_replies_comments_and_calls_back(source: str, stack, omni: FakeOmni):
    runtime, http = stack
    status, reply = invoke(event(source))
    assert status == 200
    message = "Cancelled Omni AI job " + JOB + "."
    if source == "teams":
        assert reply == {"type": "message", "text": message}
    else:
        assert reply == {"jobId": JOB, "state": "CANCELLED", "outcome": "cancelled", "message": message}
    assert omni.cancels == [("cancel", JOB, OMNI_KEY)]
    sent = {r["url"]: r for r in http.requests}
    if source in COMMENTS:
        method, url, auth, body_ok = COMMENTS[source]
        assert sent[url]["method"] == method and sent[url]["headers"]["Authorization"] == auth
        assert body_ok(sent[url]["body"], f"{message}\n{RELAY_MARK}")  # marked: never read as a command
    callback = sent[CALLBACK]
    assert callback["body"]["data"] == {
        "jobId": JOB,
        "state": "CANCELLED",
        "outcome": "cancelled",
        "message": message,
        "source": source,
    }
    # Receivers verify us with any Standard Webhooks library: check the signature as one would.
    h = callback["headers"]
    expected = standard_signature(whsec_key(CALLBACK_SECRET), h["webhook-id"], h["webhook-timestamp"], callback["raw"])
    assert h["webhook-signature"] == expected and int(h["webhook-timestamp"]) == NOW
    assert len(http.requests) == (2 if source in COMMENTS else 1)


def test_every_registered_source_has_an_event_and_a_secret():
    assert set(WEBHOOK_SOURCES) == set(SECRETS)


# -- rejections ------------------------------------------------------------------------------


def _strip_signature(e: dict[str, Any]) -> dict[str, Any]:
    signing = {
        "x-hub-signature-256",
        "x-hub-signature",
        "x-zendesk-webhook-signature",
        "x-pagerduty-signature",
        "linear-signature",
        "authorization",
        "webhook-signature",
    }
    return dict(e, headers={k: v for k, v in e["headers"].items() if k not in signing})


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_a_missing_signature_is_401_and_never_reaches_omni(source: str, stack, omni: FakeOmni):
    status, reply = invoke(_strip_signature(event(source)))
    assert status == 401 and reply["error"] == "invalid_signature"
    assert omni.cancels == []


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_a_wrong_secret_is_401(source: str, stack, omni: FakeOmni):
    forged = {
        "teams": base64.b64encode(b"not-the-teams-token-at-all-00000").decode(),
        "standard": "whsec_" + base64.b64encode(b"not-the-standard-webhooks-key000").decode(),
    }.get(source, "not-the-secret")
    status, reply = invoke(event(source, secret=forged))
    assert status == 401 and reply["error"] == "invalid_signature"
    assert omni.cancels == []


@pytest.mark.parametrize("source", sorted(s for s in SECRETS if s != "shared"))  # shared: no body signature
def test_a_tampered_body_is_401(source: str, stack, omni: FakeOmni):
    e = event(source)
    body = base64.b64decode(e["body"]) if e["isBase64Encoded"] else e["body"].encode()
    tampered = body.replace(JOB.encode(), b"0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b")
    status, _ = invoke(dict(e, body=tampered.decode(), isBase64Encoded=False))
    assert status == 401 and omni.cancels == []


@pytest.mark.parametrize("source", ["standard", "linear"])
def test_a_stale_delivery_is_401(source: str, stack, omni: FakeOmni):
    status, reply = invoke(webhook_event(source, JOB, timestamp=NOW - 3600, secret=SECRETS[source]))
    assert status == 401 and reply["error"] == "stale_request"
    assert omni.cancels == []


@pytest.mark.parametrize("source", sorted(s for s in SECRETS if s != "teams"))
def test_a_signed_non_json_body_is_415(source: str, stack, omni: FakeOmni):
    e = event(source)
    status, reply = invoke(dict(e, headers={**e["headers"], "content-type": "text/plain"}))
    assert status == 415 and reply["error"] == "unsupported_media_type"
    assert omni.cancels == []


@pytest.mark.parametrize("source", sorted(s for s in SECRETS if s not in ("standard", "shared")))
def test_a_command_without_a_job_id_is_422(source: str, stack, omni: FakeOmni):
    status, reply = invoke(event(source, text="/omni-cancel the slow one please"))
    if source == "teams":  # Teams shows non-200 replies as a failure: it gets a message instead
        assert status == 200 and "No Omni job id" in reply["text"]
    else:
        assert status == 422 and reply["error"] == "no_job_id"
    assert omni.cancels == []


def test_a_structured_sender_without_job_id_is_422(stack, omni: FakeOmni):
    status, reply = invoke(event("standard", body={"requestedBy": "bot", "source": "runbooks"}))
    assert status == 422 and reply["error"] == "no_job_id" and omni.cancels == []


@pytest.mark.parametrize("source", ["github", "jira", "zendesk", "pagerduty", "linear"])
def test_mentioning_a_job_without_the_command_word_cancels_nothing(source: str, stack, omni: FakeOmni):
    status, reply = invoke(event(source, text=f"looks like {JOB} is slow again"))
    assert status == 200 and reply["outcome"] == "ignored"
    assert omni.cancels == []


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_a_sender_not_on_the_allow_list_is_refused(source: str, omni: FakeOmni):
    runtime, http, _ = build(omni, **{f"{source.upper()}_ALLOWED": "someone-else:nobody"})
    [(status, reply)] = invoke_on(runtime, event(source))
    assert omni.cancels == []
    if source == "teams":
        assert status == 200 and "not allowed" in reply["text"]
    else:
        assert status == 403 and reply["outcome"] == "sender_not_allowed"


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_deny_by_default_when_no_allow_list_is_configured(source: str, omni: FakeOmni):
    runtime, _, _ = build(omni, **{f"{source.upper()}_ALLOWED": ""})
    [(status, reply)] = invoke_on(runtime, event(source))
    assert omni.cancels == []
    assert (status, reply.get("outcome")) == (403, "not_configured") or "not set up" in reply.get("text", "")


def test_an_oversized_body_is_413(stack, omni: FakeOmni):
    big = {"jobId": JOB, "requestedBy": "x" * stack[0].settings.max_body_bytes}
    status, reply = invoke(event("standard", body=big))
    assert status == 413 and reply["error"] == "payload_too_large" and omni.cancels == []


def test_unknown_and_disabled_sources_are_404(omni: FakeOmni):
    runtime, _, store = build(omni)
    del store.values["webhooks"]["zendesk"]
    e = event("github")
    path = "/webhooks/gitlab"
    elsewhere = dict(
        e, rawPath=path, requestContext={**e["requestContext"], "http": {**e["requestContext"]["http"], "path": path}}
    )
    unknown, disabled = invoke_on(runtime, elsewhere, event("zendesk"))
    assert unknown == (404, {"error": "unknown_source", "message": "No such webhook source."})
    assert disabled[0] == 404 and disabled[1]["error"] == "source_not_enabled"
    assert omni.cancels == []


# -- source specifics ------------------------------------------------------------------------


def test_a_repeated_delivery_id_is_answered_once(stack, omni: FakeOmni):
    runtime, http = stack
    first = invoke(event("github", delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"))
    again = invoke(event("github", delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"))
    assert first == again and len(omni.cancels) == 1
    assert len(http.requests) == 2  # one comment, one callback


def test_pagerduty_accepts_any_signature_during_a_rotation(stack, omni: FakeOmni):
    e = event("pagerduty")
    good = e["headers"]["x-pagerduty-signature"]
    rotated = dict(e, headers={**e["headers"], "x-pagerduty-signature": f"v1=00ff,{good}"})
    assert invoke(rotated)[0] == 200 and len(omni.cancels) == 1


def test_jira_automation_with_a_secret_header(stack, omni: FakeOmni):
    e = _strip_signature(event("jira"))
    assert invoke(dict(e, headers={**e["headers"], "x-omni-relay-token": DEV_TOKENS["jira"]}))[0] == 200
    assert invoke(dict(e, headers={**e["headers"], "x-omni-relay-token": "guess"}))[0] == 401
    assert len(omni.cancels) == 1


@pytest.mark.parametrize(
    "header",
    [
        {"authorization": "Bearer " + SECRETS["shared"]},
        {"authorization": "Basic " + base64.b64encode(f"servicenow:{SECRETS['shared']}".encode()).decode()},
        {"x-omni-relay-token": SECRETS["shared"]},
    ],
)
def test_the_shared_secret_source_takes_bearer_basic_or_a_header(header: dict[str, str], stack, omni: FakeOmni):
    e = _strip_signature(event("shared"))
    assert invoke(dict(e, headers={**e["headers"], **header}))[0] == 200


def test_github_ping_and_bot_comments_are_acknowledged_not_acted_on(stack, omni: FakeOmni):
    e = event("github")
    ping = invoke(dict(e, headers={**e["headers"], "x-github-event": "ping"}))
    body = {**json.loads(base64.b64decode(e["body"]) if e["isBase64Encoded"] else e["body"])}
    body["sender"] = {"login": "omni-relay[bot]", "type": "Bot"}
    bot = invoke(event("github", body=body))
    assert ping[0] == bot[0] == 200 and ping[1]["outcome"] == bot[1]["outcome"] == "ignored"
    assert omni.cancels == []


def test_a_configured_jmespath_finds_the_job_in_a_structured_field(omni: FakeOmni):
    runtime, _, _ = build(omni, STANDARD_JOB_ID_PATH="payload.omni.job")
    job_url = f"https://acme.omniapp.co/jobs/{JOB}"  # a job URL on the configured Omni
    [(status, reply)] = invoke_on(runtime, event("standard", body={"payload": {"omni": {"job": job_url}}}))
    assert status == 200 and reply["jobId"] == JOB


def test_an_invalid_jmespath_is_a_configuration_error():
    with pytest.raises(ConfigError, match="GITHUB_JOB_ID_PATH"):
        make_settings(GITHUB_JOB_ID_PATH="issue.[title")


def test_a_slow_omni_is_handed_off_with_202_and_where_to_comment(omni: FakeOmni):
    queue = MemoryQueue()
    runtime, _, _ = build(omni, queue=queue)
    omni.answer = lambda op, job, token: OmniReply(503, {})
    [(status, reply)] = invoke_on(runtime, event("github"))
    assert status == 202 and reply["outcome"] == "pending"
    assert queue.tasks[0].source == "github" and queue.tasks[0].reply.thread == {
        "repo": "acme/data-platform",
        "number": "42",
    }


@pytest.mark.parametrize(
    ("raw", "scope", "user", "allowed"),
    [
        ("acme/data", "acme/data", "login:alice", True),  # a member of the scope
        ("acme/data", "acme/ops", "login:alice", False),
        ("acme/data:login:alice", "acme/data", "login:bob", False),
        ("*:login:alice", "anything", "login:alice", True),
        ("acme/data:alice", "acme/data", "login:alice", True),  # an old login entry, read as one
        ("acme/data:1", "acme/data", "id:1", False),  # an old numeric one: a login or an id? Refused
        ("acme/data:id:1", "acme/data", "login:1", False),  # a login is never an id
        ("*", "", "login:x", True),
        ("", "acme/data", "login:alice", False),
    ],
)
def test_sender_lists(raw: str, scope: str, user: str, allowed: bool):
    who = Requester("github", scope=scope, actor=Actor.MEMBER, ids=(f"github:{user}",))
    if "alice" in raw or ":1" in raw:  # named entries admit that identity only, member or not
        who = Requester("github", scope=scope, actor=Actor.OUTSIDER, ids=(f"github:{user}",))
    assert (SenderList.parse(raw, "github").refusal(who) == "") is allowed
