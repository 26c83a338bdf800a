"""Every route, driven with generated requests: noise, authentic requests with hostile contents, and
authentic requests tampered with after signing. Invariants, for every single request:

- the handler returns (no unhandled exception) and the status is below 500;
- Omni is called only for a request that was signed with the right secret, unaltered, by an allowed sender;
- no reply holds a secret, a stack trace or an exception's text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

import relay_app
from local.cloud.gateway import LambdaContext, http_api_event
from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.wiring import Runtime
from tests.conftest import in_use
from tests.fakes import FakeOmni, FakeSecretStore, FakeUnfurler, MemoryDedupe, RecordingHttp
from tests.unit.conftest import make_settings
from tools.signers.slack import sign as slack_sign
from tools.signers.webhooks import payload as vendor_payload
from tools.signers.webhooks import secrets_for
from tools.signers.webhooks import sign as vendor_sign

NOW = 1_795_000_000
SLACK_SECRET = "fuzz-slack-signing-secret-51d2"
OMNI_KEY = "fuzz-omni-org-key-77ae"
ALLOWED_TEAM = "T0ALLOWED"
ALLOWED_SCOPE = "scope-allowed"
WEBHOOK_SECRETS = secrets_for("fuzz")
BOT_TOKEN = "xoxb-fuzz-bot-token-3c9e"
SECRETS = [SLACK_SECRET, OMNI_KEY, *WEBHOOK_SECRETS.values(), "gh-fuzz-api-token", BOT_TOKEN]
LEAKS = ("Traceback", 'File "', "Error:", "Exception", "KeyError", "TypeError", "ValueError")
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


@dataclass
class Harness:
    omni: FakeOmni
    http: RecordingHttp
    runtime: Runtime
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, event: Any, *, may_reach_omni: bool) -> dict[str, Any]:
        before = len(self.omni.calls)
        result = relay_app.lambda_handler(event, LambdaContext())  # raises = an unhandled exception
        self.requests += 1
        status = result["statusCode"]
        self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status < 500, result
        text = json.dumps(result)
        for secret in SECRETS:
            assert secret not in text, "a secret was echoed"
        for leak in LEAKS:
            assert leak not in text, f"a reply shows {leak!r}: {text[:300]}"
        if len(self.omni.calls) > before:
            assert may_reach_omni, f"Omni was called for a request that is not authentic and allowed: {text[:300]}"
        return result


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    omni = FakeOmni()
    store = FakeSecretStore(
        {
            "slack": {"signing_secrets": [SLACK_SECRET], "bot_token": BOT_TOKEN},
            "omni": {"api_key": OMNI_KEY},
            "webhooks": {
                **{s: {"secrets": [v]} for s, v in WEBHOOK_SECRETS.items()},
                "github": {"secrets": [WEBHOOK_SECRETS["github"]], "api_token": "gh-fuzz-api-token"},
            },
        }
    )
    env = {f"{s.upper()}_ALLOWED": f"{ALLOWED_SCOPE}:*" for s in WEBHOOK_SECRETS}
    settings = make_settings(SLACK_ALLOWED_TEAMS=ALLOWED_TEAM, WEBHOOK_SECRET_ID="webhooks", **env)
    http = RecordingHttp()
    runtime = Runtime(
        settings,
        store,
        omni,
        postback=PostBack(AllowedHosts.parse(), http=http),
        dedupe=MemoryDedupe(),
        unfurler=FakeUnfurler(),
        now=lambda: NOW,
    )
    with in_use(runtime):
        yield Harness(omni, http, runtime)


# -- strategies ------------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2000),
    st.sampled_from(["", " ", "\x00", "%", "%ZZ", "&&&", "=", "\ud800", "💥" * 50, "a" * 70_000, "null", "{}", "[]"]),
)
job_like = st.one_of(
    st.just(JOB),
    st.uuids().map(str),
    st.just(JOB.upper()),
    st.just(f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}/cancel"),
    hostile_text,
)
header_names = st.sampled_from(
    [
        "X-Slack-Signature",
        "x-slack-request-timestamp",
        "X-SLACK-SIGNATURE",
        "Content-Type",
        "content-type",
        "X-Hub-Signature-256",
        "X-Hub-Signature",
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Zendesk-Webhook-Signature",
        "X-Zendesk-Webhook-Signature-Timestamp",
        "X-PagerDuty-Signature",
        "Linear-Signature",
        "Authorization",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "X-Omni-Relay-Token",
    ]
) | st.text(min_size=1, max_size=40)
header_values = st.one_of(
    hostile_text,
    st.sampled_from(["v0=", "sha256=", "v1=", "v1,", "HMAC ", "Bearer ", "Basic !!!", str(NOW), "-1", "9" * 40]),
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]),
)
ROUTES = [
    "/slack/commands",
    "/slack/interactions",
    "/slack/events",
    *(f"/webhooks/{s}" for s in WEBHOOK_SECRETS),
    "/webhooks/nope",
]


@st.composite
def noise_events(draw: st.DrawFn, path: str) -> dict[str, Any]:
    """Anything at all at a route: headers in any case, bodies of any shape, base64 flag true or false."""
    headers = draw(st.dictionaries(header_names, header_values, max_size=8))
    body = draw(st.one_of(st.binary(max_size=3000), hostile_text.map(utf8), st.just(b"")))
    event = http_api_event("POST", path, headers, body, arrival_ms=NOW * 1000)
    mutate = draw(st.integers(0, 5))
    if mutate == 1:
        event["isBase64Encoded"] = not event["isBase64Encoded"]
    elif mutate == 2:
        event["body"] = draw(st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=3)))
    elif mutate == 3:
        event["headers"] = draw(st.one_of(st.none(), st.lists(st.text(max_size=5), max_size=3), st.text(max_size=5)))
    elif mutate == 4:
        event["requestContext"] = dict(
            event["requestContext"], timeEpoch=draw(st.one_of(st.text(max_size=5), st.none()))
        )
    return event


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate is bytes a sender could send


def slack_form(fields: dict[str, str]) -> bytes:
    return urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()


@st.composite
def authentic_slack(draw: st.DrawFn, path: str) -> tuple[dict[str, Any], bool]:
    """A correctly signed Slack request with hostile contents; returns (event, may reach Omni)."""
    team = draw(st.sampled_from([ALLOWED_TEAM, "T0OTHER", "", "T\u200b", ALLOWED_TEAM.lower()]))
    user = draw(st.one_of(st.just("U0FUZZ"), hostile_text))
    if path == "/slack/commands":
        text = draw(st.one_of(job_like, st.builds(lambda j, t: f"{t} {j} {t}", job_like, hostile_text)))
        fields = {
            "team_id": team,
            "user_id": user,
            "channel_id": "C1",
            "command": "/omni-cancel",
            "text": text,
            "response_url": draw(st.sampled_from(["https://hooks.slack.com/commands/1", "", "http://evil/"])),
        }
        extra = draw(st.dictionaries(st.text(max_size=10), hostile_text, max_size=3))
        body = slack_form({**extra, **fields})
    else:
        payload = {
            "type": draw(st.sampled_from(["block_actions", "view_submission", "shortcut", "message_action", ""])),
            "callback_id": draw(st.sampled_from(["omni_cancel_from_message", "other", ""])),
            "trigger_id": draw(st.text(max_size=20)),
            "message": draw(st.one_of(st.builds(lambda t: {"text": t}, job_like), hostile_text, st.none())),
            "container": {"channel_id": "C1", "message_ts": "1.2", "app_unfurl_url": draw(job_like)},
            "team": {"id": team},
            "user": draw(st.one_of(st.just({"id": user, "username": "u"}), st.none(), st.text(max_size=5))),
            "response_url": "https://hooks.slack.com/actions/1",
            "actions": draw(
                st.one_of(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "action_id": st.sampled_from(
                                    ["omni_cancel_job", "omni_check_job", "omni_cancel_here", "omni_check_here"]
                                    + ["other"]
                                ),
                                "value": job_like,
                                "action_ts": st.text(max_size=20),
                            }
                        ),
                        max_size=3,
                    ),
                    st.none(),
                    st.text(max_size=5),
                )
            ),
        }
        raw = draw(st.one_of(st.just(json.dumps(payload)), hostile_text))
        body = slack_form({"payload": raw})
    ts = draw(st.sampled_from([NOW, NOW, NOW - 301, NOW + 10]))
    headers = {
        "Content-Type": draw(st.sampled_from(["application/x-www-form-urlencoded"] * 4 + ["text/plain"])),
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": slack_sign(SLACK_SECRET, body, ts),
    }
    tamper = draw(st.integers(0, 4)) == 0 and len(body) > 0
    if tamper:
        body = body[:-1] + bytes([(body[-1] + 1) % 256])
    may = not tamper and abs(ts - NOW) <= 300 and team == ALLOWED_TEAM
    return http_api_event("POST", path, headers, body, arrival_ms=NOW * 1000), may


@st.composite
def authentic_slack_event(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A correctly signed Events API delivery with hostile contents; returns (event, may reach Omni)."""
    team = draw(st.sampled_from([ALLOWED_TEAM, "T0OTHER", ""]))
    links = draw(st.lists(st.builds(lambda u: {"url": u, "domain": "acme.omniapp.co"}, job_like), max_size=7))
    event = {
        "type": draw(st.sampled_from(["link_shared", "app_mention", ""])),
        "user": draw(st.one_of(st.just("U0FUZZ"), hostile_text)),
        "channel": "C1",
        "message_ts": draw(st.sampled_from(["1.2", "", "x"])),
        "links": draw(st.one_of(st.just(links), hostile_text, st.none())),
    }
    body_obj: Any = {
        "type": draw(st.sampled_from(["event_callback", "url_verification", ""])),
        "team_id": team,
        "event_id": draw(st.text(max_size=20)),
        "challenge": draw(st.one_of(hostile_text, st.none(), st.integers())),
        "event": draw(st.one_of(st.just(event), hostile_text)),
    }
    body = draw(st.one_of(st.just(json.dumps(body_obj).encode()), hostile_text.map(utf8)))
    headers = {
        "Content-Type": draw(st.sampled_from(["application/json"] * 4 + ["application/x-www-form-urlencoded"])),
        "X-Slack-Request-Timestamp": str(NOW),
        "X-Slack-Signature": slack_sign(SLACK_SECRET, body, NOW),
        "X-Slack-Retry-Num": draw(st.sampled_from(["", "1", "x" * 50])),
    }
    tamper = draw(st.integers(0, 4)) == 0 and len(body) > 0
    if tamper:
        body = body[:-1] + bytes([(body[-1] + 1) % 256])
    return http_api_event(
        "POST", "/slack/events", headers, body, arrival_ms=NOW * 1000
    ), not tamper and team == ALLOWED_TEAM


@st.composite
def authentic_webhook(draw: st.DrawFn, source: str) -> tuple[dict[str, Any], bool]:
    """A correctly signed, real-shaped delivery with hostile contents; returns (event, may reach Omni)."""
    scope = draw(st.sampled_from([ALLOWED_SCOPE, "scope-other", ""]))
    text = draw(st.one_of(st.builds(lambda j: f"/omni-cancel {j}", job_like), hostile_text))
    body_obj: Any = vendor_payload(source, JOB, user="fuzz-user", scope=scope, text=text, now=NOW)
    if source in ("standard", "shared"):
        body_obj["jobId"] = draw(job_like)
    if draw(st.integers(0, 5)) == 0:  # replace a random top-level field with something else entirely
        key = draw(st.sampled_from(sorted(body_obj)))
        body_obj[key] = draw(st.one_of(st.none(), st.integers(), hostile_text, st.lists(st.integers(), max_size=2)))
    body = draw(
        st.one_of(st.just(json.dumps(body_obj).encode()), st.just(utf8(json.dumps(body_obj, ensure_ascii=False))))
    )
    delivery_id = draw(st.one_of(st.just("msg_fuzz"), st.text(max_size=30)))
    headers = {
        "Content-Type": draw(
            st.sampled_from(["application/json"] * 5 + ["application/json; charset=utf-8", "text/plain"])
        )
    }
    headers.update(vendor_sign(source, body, WEBHOOK_SECRETS[source], now=NOW, delivery_id=delivery_id or "x"))
    if source == "github":
        headers["X-GitHub-Event"] = draw(st.sampled_from(["issue_comment", "issues", "ping", "push", ""]))
    for name in draw(st.lists(st.sampled_from(sorted(headers)), max_size=2)):  # the same header again, other case
        headers[name.upper() if name != name.upper() else name.lower()] = draw(header_values)
    tamper = draw(st.integers(0, 4)) == 0
    if tamper:
        body = body + b" "
    # The shared-secret source signs nothing: a body changed in transit is indistinguishable (documented).
    may = (not tamper or source == "shared") and scope == ALLOWED_SCOPE
    return http_api_event("POST", f"/webhooks/{source}", headers, body, arrival_ms=NOW * 1000), may


# -- the properties --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
def test_noise_never_breaks_a_route_nor_reaches_omni(path: str, harness: Harness):
    @given(noise_events(path))
    def check(event: dict[str, Any]) -> None:
        harness.send(event, may_reach_omni=False)

    check()


@pytest.mark.parametrize("path", ["/slack/commands", "/slack/interactions"])
def test_authentic_slack_requests_with_hostile_contents(path: str, harness: Harness):
    @given(authentic_slack(path))
    def check(case: tuple[dict[str, Any], bool]) -> None:
        harness.send(case[0], may_reach_omni=case[1])

    check()


def test_authentic_slack_events_with_hostile_contents(harness: Harness):
    @given(authentic_slack_event())
    def check(case: tuple[dict[str, Any], bool]) -> None:
        harness.send(case[0], may_reach_omni=case[1])

    check()


@pytest.mark.parametrize("source", sorted(WEBHOOK_SECRETS))
def test_authentic_webhooks_with_hostile_contents(source: str, harness: Harness):
    @given(authentic_webhook(source))
    def check(case: tuple[dict[str, Any], bool]) -> None:
        harness.send(case[0], may_reach_omni=case[1])

    check()


def test_the_fuzzing_reached_omni_and_every_kind_of_answer(harness: Harness):
    """The generators are not all noise: some requests were authentic and allowed, and got through."""
    assert harness.requests > 0 and len(harness.omni.calls) > 0, harness.statuses
    assert {200, 401} <= set(harness.statuses), harness.statuses
