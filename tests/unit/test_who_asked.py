"""Who asked, and what they asked: the attacks that broke the relay's promise (only the right person
stops only the job they named), each through the relay's handler in-process with fakes of Omni.

Each test is an attacker's attempt; it names the finding it reproduces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from omni_relay.adapters.omni import OmniReply
from tests.fakes import FakeOmni
from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET
from tests.unit.test_relay_handler import invoke
from tests.unit.test_webhooks import JOB, SECRETS, build, event, invoke_on
from tools.signers.events import slack_event, webhook_event
from tools.signers.webhooks import payload

VICTIM_ID = "583231"  # a real person's public numeric GitHub id
VICTIM_TOKEN = "victim-personal-access-token"  # noqa: S105 (a fake token)
PROMPT = "Quarterly revenue by customer, with contract values"


def _github(text: str = f"/omni-cancel {JOB}", *, login: str = "octocat", user_id: int = 1, **changes: Any):
    body = payload("github", JOB, text=text, now=NOW)
    body["sender"] = {"login": login, "id": user_id, "type": "User"}
    body["comment"]["user"] = dict(body["sender"])
    body["comment"]["author_association"] = changes.pop("association", "MEMBER")
    if "private" in changes:
        body["repository"]["private"] = changes.pop("private")
    return event("github", body=body)


def _owner_omni(owner: str = "u-victim") -> FakeOmni:
    def answer(op: str, value: str, token: str) -> OmniReply:
        if op == "cancel":
            return OmniReply(200, {"jobId": value, "state": "CANCELLED"})
        if op == "status":
            return OmniReply(200, {"id": value, "state": "EXECUTING", "userId": owner, "prompt": PROMPT})
        if op == "find_user":
            users = {"victim@acme.com": "u-victim", "mallory@acme.com": "u-mallory"}
            found = [{"id": users[value], "userName": value}] if value in users else []
            return OmniReply(200, {"Resources": found, "totalResults": len(found)})
        return OmniReply(200, {"id": value, "userName": "victim@acme.com", "displayName": "Victim"})

    return FakeOmni(answer)


# -- GitHub: a login made of digits is not the person whose numeric id those digits are ----------------


@pytest.mark.parametrize("key", [f"github:{VICTIM_ID}", f"github:id:{VICTIM_ID}"])  # the old form, and the new
def test_a_digit_login_never_gets_the_numeric_id_owners_token(omni: FakeOmni, key: str):
    runtime, _, store = build(omni)
    store.values["omni"] = {"api_key": OMNI_KEY, "user_tokens": {key: VICTIM_TOKEN}}
    [(status, reply)] = invoke_on(runtime, _github(login=VICTIM_ID, user_id=999))
    assert status == 200 and reply["outcome"] == "cancelled"
    assert [c[2] for c in omni.cancels] == [OMNI_KEY]  # the org key, never the victim's own token


def test_the_numeric_id_owner_does_get_their_own_token(omni: FakeOmni):
    runtime, _, store = build(omni)
    store.values["omni"] = {"api_key": OMNI_KEY, "user_tokens": {f"github:id:{VICTIM_ID}": VICTIM_TOKEN}}
    invoke_on(runtime, _github(login="victim", user_id=int(VICTIM_ID)))
    assert [c[2] for c in omni.cancels] == [VICTIM_TOKEN]


def test_an_old_bare_numeric_github_entry_is_refused_not_matched_to_a_login(omni: FakeOmni, log_lines):
    # `acme/data-platform:583231` could mean a login or an id: it admits no one and says the new form.
    runtime, _, _ = build(omni, GITHUB_ALLOWED=f"acme/data-platform:{VICTIM_ID}")
    [(status, reply)] = invoke_on(runtime, _github(login=VICTIM_ID, user_id=999, association="NONE"))
    assert status == 403 and reply["outcome"] in ("sender_not_allowed", "not_configured") and omni.cancels == []
    assert f"github:id:{VICTIM_ID}" in log_lines.getvalue()  # the setup error names the new form


@pytest.mark.parametrize("entry", [f"github:{VICTIM_ID}", f"github:id:{VICTIM_ID}"])
def test_a_digit_login_is_not_on_call_as_the_numeric_id(entry: str):
    omni = _owner_omni()
    runtime, _, store = build(omni, WHO_MAY_CANCEL="owner-or-on-call", ON_CALL=entry)
    store.values["omni"] = {"api_key": OMNI_KEY, "identities": {"github:id:1": "mallory@acme.com"}}
    [(status, reply)] = invoke_on(runtime, _github(login=VICTIM_ID, user_id=1))
    assert (status, reply["outcome"]) == (403, "not_owner") and omni.cancels == []


@pytest.mark.parametrize("key", [f"github:{VICTIM_ID}", f"github:id:{VICTIM_ID}"])
def test_a_digit_login_is_not_taken_for_the_person_the_identities_map_names(key: str):
    omni = _owner_omni()
    runtime, _, store = build(omni, WHO_MAY_CANCEL="owner-or-on-call")
    store.values["omni"] = {"api_key": OMNI_KEY, "identities": {key: "victim@acme.com"}}
    [(status, reply)] = invoke_on(runtime, _github(login=VICTIM_ID, user_id=999))
    assert (status, reply["outcome"]) == (403, "identity_unknown") and omni.cancels == []


# -- Jira: the Automation token and the webhook's HMAC secret are two trust levels ----------------------

AUTOMATION_TOKEN = "jira-automation-token-4d1f9a7c2b"  # noqa: S105 (a fake token)


def _jira_runtime(omni: FakeOmni, **env: str):
    runtime, http, store = build(omni, **env)
    store.values["webhooks"]["jira"] = {**store.values["webhooks"]["jira"], "tokens": [AUTOMATION_TOKEN]}
    return runtime, store


def _jira(body: dict[str, Any], *, hmac_key: str | None = None, token: str | None = None) -> dict[str, Any]:
    e = event("jira", body=body)
    headers = {k: v for k, v in e["headers"].items() if k != "x-hub-signature"}
    raw = e["body"].encode()
    if hmac_key is not None:
        headers["x-hub-signature"] = "sha256=" + hmac.new(hmac_key.encode(), raw, hashlib.sha256).hexdigest()
    if token is not None:
        headers["x-omni-relay-token"] = token
    return dict(e, headers=headers)


def test_the_automation_token_does_not_sign_as_atlassian(omni: FakeOmni):
    runtime, _ = _jira_runtime(omni)
    [(status, reply)] = invoke_on(runtime, _jira(payload("jira", JOB, now=NOW), hmac_key=AUTOMATION_TOKEN))
    assert (status, reply["error"]) == (401, "invalid_signature") and omni.cancels == []


def test_the_hmac_secret_is_not_an_automation_token(omni: FakeOmni):
    runtime, _ = _jira_runtime(omni)
    [(status, reply)] = invoke_on(runtime, _jira(payload("jira", JOB, now=NOW), token=SECRETS["jira"]))
    assert (status, reply["error"]) == (401, "invalid_signature") and omni.cancels == []


def test_an_automation_delivery_cannot_name_someone_else_in_owner_or_on_call():
    omni = _owner_omni()
    runtime, store = _jira_runtime(omni, WHO_MAY_CANCEL="owner-or-on-call")
    store.values["omni"] = {"api_key": OMNI_KEY, "user_tokens": {"jira:account:victim-account": VICTIM_TOKEN}}
    body = payload("jira", JOB, now=NOW)
    body["comment"]["author"] = {"accountId": "victim-account", "emailAddress": "victim@acme.com"}
    [(status, reply)] = invoke_on(runtime, _jira(body, token=AUTOMATION_TOKEN))
    assert (status, reply["outcome"]) == (403, "identity_unknown") and omni.cancels == []


# -- Slack: `status` in any spelling only looks ---------------------------------------------------------


@pytest.mark.parametrize("text", [f"status\u00a0{JOB}", f"status\t{JOB}", f"status: {JOB}", f"Status, {JOB}"])
def test_status_in_any_spelling_never_cancels_from_slack(runtime, omni: FakeOmni, text: str, use_runtime):
    use_runtime(runtime)
    status, reply = invoke(slack_event("/slack/commands", text, secret=SIGNING_SECRET, timestamp=NOW))
    assert status == 200 and omni.cancels == []
    assert [c[0] for c in omni.calls] == ["status"]


# -- Webhook text: a mention is not a command -----------------------------------------------------------

MENTIONS = [
    f"See https://wiki.acme.example/omni-cancelling-jobs before anything: job {JOB} must keep running",
    f"do NOT /omni-cancel anything today, job {JOB} is the quarterly close",
    f"/omni-cancel-relay is great; {JOB} finished fine",
    f"> /omni-cancel\n\nThat is what I would have typed.\n\nBut {JOB} is fine now.",
    f"> /omni-cancel {JOB}\n\nquoting the last incident, nothing to do",
    f"```\n/omni-cancel {JOB}\n```\nthe runbook says this; not now",
]


@pytest.mark.parametrize("text", MENTIONS)
@pytest.mark.parametrize("source", ["github", "jira", "zendesk", "pagerduty", "linear"])
def test_a_text_that_only_mentions_the_command_or_a_job_cancels_nothing(source: str, text: str, omni: FakeOmni):
    runtime, _, _ = build(omni)
    [(status, reply)] = invoke_on(runtime, event(source, text=text))
    assert omni.cancels == [] and status in (200, 422), reply


# -- Outsiders: scope-only allow-lists admit the vendor's members only -----------------------------------


def test_a_github_outsider_on_a_public_repository_is_refused(omni: FakeOmni):
    runtime, http, _ = build(omni, GITHUB_ALLOWED="acme/data-platform")
    [(status, reply)] = invoke_on(runtime, _github(association="NONE", private=False))
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and omni.calls == []
    assert "job" not in reply


def test_a_zendesk_end_user_is_refused(omni: FakeOmni):
    runtime, _, _ = build(omni, ZENDESK_ALLOWED="360002470971")
    body = payload("zendesk", JOB, now=NOW)
    body["event"]["comment"]["author"]["is_staff"] = False
    [(status, reply)] = invoke_on(runtime, event("zendesk", body=body))
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and omni.calls == []


def test_a_pagerduty_email_integration_is_refused(omni: FakeOmni):
    runtime, _, _ = build(omni, PAGERDUTY_ALLOWED="PF9KMXH")
    body = payload("pagerduty", JOB, now=NOW)
    body["event"]["agent"] = {"id": "PEMAIL1", "type": "inbound_integration_reference"}
    [(status, reply)] = invoke_on(runtime, event("pagerduty", body=body))
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and omni.calls == []


def test_status_on_a_public_repository_posts_no_prompt():
    omni = _owner_omni()
    runtime, http, _ = build(omni, GITHUB_ALLOWED="acme/data-platform")
    [(status, reply)] = invoke_on(runtime, _github(f"/omni-cancel status {JOB}", private=False))
    assert status == 200 and reply["outcome"] == "status" and omni.cancels == []
    posted = json.dumps(http.requests, default=str)
    assert http.requests  # the comment was posted, without the prompt
    assert PROMPT not in posted and PROMPT not in json.dumps(reply)


def test_a_member_on_a_private_repository_sees_the_prompt():
    omni = _owner_omni()
    runtime, http, _ = build(omni, GITHUB_ALLOWED="acme/data-platform")
    [(status, reply)] = invoke_on(runtime, _github(f"/omni-cancel status {JOB}", private=True))
    assert status == 200 and PROMPT in json.dumps(reply)


# -- Owner-or-on-call: looking follows the same rule, and a refusal shows no prompt ----------------------


def _mallory_in_jira(text: str) -> dict[str, Any]:
    """A Jira comment by Mallory, named by the email Atlassian signs: neither the job's owner nor on call."""
    body = payload("jira", JOB, text=text, now=NOW)
    body["comment"]["author"]["emailAddress"] = "mallory@acme.com"
    return event("jira", body=body)


def test_someone_neither_owner_nor_on_call_cannot_read_a_job_by_status():
    omni = _owner_omni()
    runtime, _, _ = build(omni, WHO_MAY_CANCEL="owner-or-on-call")
    [(status, reply)] = invoke_on(runtime, _mallory_in_jira(f"/omni-cancel status {JOB}"))
    assert (status, reply["outcome"]) == (403, "not_owner") and PROMPT not in json.dumps(reply)


def test_a_refused_cancel_shows_no_prompt():
    omni = _owner_omni()
    runtime, _, _ = build(omni, WHO_MAY_CANCEL="owner-or-on-call")
    [(status, reply)] = invoke_on(runtime, _mallory_in_jira(f"/omni-cancel {JOB}"))
    assert (status, reply["outcome"]) == (403, "not_owner") and omni.cancels == []
    assert PROMPT not in json.dumps(reply) and "Victim" in json.dumps(reply)  # whose job, never what it does


# -- Standard Webhooks: an empty key is no key ------------------------------------------------------------


def test_a_bare_whsec_entry_does_not_accept_an_empty_key(omni: FakeOmni):
    runtime, _, store = build(omni)
    store.values["webhooks"]["standard"] = {"secrets": ["whsec_"]}
    body = json.dumps({"jobId": JOB, "requestedBy": "anyone", "source": "runbooks"}).encode()
    msg_id, stamp = "msg_attacker", str(NOW)
    mac = hmac.new(b"", f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    e = webhook_event("standard", JOB, timestamp=NOW, secret=SECRETS["standard"])
    headers = {
        **e["headers"],
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    [(status, reply)] = invoke_on(runtime, dict(e, headers=headers, body=body.decode()))
    assert status in (401, 404) and omni.calls == [], reply


# -- The per-sender limit keys on what the vendor proves, not on what a sender writes ----------------------


def test_varying_requested_by_does_not_walk_past_the_per_sender_limit(omni: FakeOmni):
    runtime, _, _ = build(omni, SENDER_RATE_LIMIT_PER_MIN="2")
    events = [event("standard", user=f"runbook-bot-{i}", delivery_id=f"msg_{i}_{time.time_ns()}") for i in range(4)]
    answers = invoke_on(runtime, *events)
    assert [status for status, _ in answers] == [200, 200, 429, 429]
    assert len(omni.cancels) == 1  # the second, of the job just cancelled, answered from the relay's record


# -- What a helper who had not seen the change got through over `make local`, each now a test ------------

CODE_AND_QUOTES = [
    f"````\n```\n/omni-cancel {JOB}\n```\n````",  # a longer fence is not closed by a shorter one
    f"~~~\n```\n/omni-cancel {JOB}\n~~~",  # nor by a fence of the other character
    f"- ```\n  /omni-cancel {JOB}\n  ```",  # a fence in a list item
    f"Logs:\n\n    /omni-cancel {JOB}\n",  # an indented code block
    f"``` `x` ```\n```\n/omni-cancel {JOB}\n```",  # an inline span is not a fence; the real one still is
    f"<blockquote>\n/omni-cancel {JOB}\n</blockquote>",
    f"<!--\n/omni-cancel {JOB}\n-->",
    f"> Is this job stuck?\u2028/omni-cancel {JOB}",  # one Markdown line, whatever Python's splitlines says
    f"> Is this job stuck?\x85/omni-cancel {JOB}",
    f"{{quote}}\n/omni-cancel {JOB}\n{{quote}}",  # Jira's wiki markup
    f"{{code:bash}}\n/omni-cancel {JOB}\n{{code}}",
    f"{{noformat}}\n/omni-cancel {JOB}\n{{noformat}}",
]


@pytest.mark.parametrize("text", CODE_AND_QUOTES)
@pytest.mark.parametrize("source", ["github", "jira"])
def test_code_and_quotes_in_any_markup_never_command(source: str, text: str, omni: FakeOmni):
    runtime, _, _ = build(omni)
    [(status, reply)] = invoke_on(runtime, event(source, text=text))
    assert omni.cancels == [] and status in (200, 422), reply


def test_an_outsiders_text_quoted_by_a_member_is_not_the_members_command(omni: FakeOmni):
    runtime, _, _ = build(omni, GITHUB_ALLOWED="acme/data-platform")
    quoted = f"> Is this job stuck?\u2028/omni-cancel {JOB}\n\nno idea"
    [(status, reply)] = invoke_on(runtime, _github(quoted))
    assert omni.cancels == [] and reply["outcome"] == "ignored"


@pytest.mark.parametrize("text", [f"{JOB} is fine, don't <at>Omni Cancel</at> it", f"{JOB} <at>Omni</at> status?"])
def test_teams_asks_only_when_the_mention_comes_first(text: str, omni: FakeOmni):
    runtime, _, _ = build(omni)
    body = payload("teams", JOB, now=NOW)
    body["text"] = text
    [(status, reply)] = invoke_on(runtime, event("teams", body=body))
    assert status == 200 and omni.cancels == [], reply


def test_a_jira_automation_rule_passes_a_project_entry_only_when_named_as_the_sender(omni: FakeOmni):
    body = payload("jira", JOB, now=NOW)
    body["comment"]["author"]["accountType"] = "customer"  # what the rule writes is a claim either way
    runtime, _ = _jira_runtime(omni, JIRA_ALLOWED="DATA")
    [(status, reply)] = invoke_on(runtime, _jira(body, token=AUTOMATION_TOKEN))
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and omni.cancels == []
    runtime, _ = _jira_runtime(omni, JIRA_ALLOWED="DATA,DATA:sender")
    [(status, reply)] = invoke_on(runtime, _jira(body, token=AUTOMATION_TOKEN))
    assert status == 200 and len(omni.cancels) == 1


def _slack_world(use_runtime, **env: str):
    from tests.unit.test_owner_or_on_call import world_with

    return world_with(use_runtime, **env)


def test_a_revoked_personal_token_does_not_fall_back_to_the_org_key_unchecked(use_runtime):
    world = _slack_world(use_runtime, ON_CALL="")
    world.store.values["omni"] = {"api_key": OMNI_KEY, "user_tokens": {"slack:T0LOCAL01:U0BOB0001": "bob-pat"}}
    answer = world.calls.answer

    def revoked(op: str, value: str, token: str) -> OmniReply:
        if token == "bob-pat":  # Omni no longer takes it; the operator has removed the mapping meanwhile
            world.store.values["omni"] = {"api_key": OMNI_KEY}
            return OmniReply(401, {"detail": "Invalid token"})
        return answer(op, value, token)

    world.calls.answer = revoked
    reply = world.command("U0BOB0001")
    assert world.calls.cancels == [("cancel", JOB, "bob-pat")]  # never again with the org key
    assert "Revenue by region" not in json.dumps(reply)


def test_a_personal_token_does_not_read_someone_elses_job_in_owner_or_on_call(use_runtime):
    world = _slack_world(use_runtime, ON_CALL="")
    world.store.values["omni"] = {"api_key": OMNI_KEY, "user_tokens": {"slack:T0LOCAL01:U0BOB0001": "bob-pat"}}
    reply = world.command("U0BOB0001", f"status {JOB}")
    assert "Revenue by region" not in json.dumps(reply) and world.calls.cancels == []


def test_a_refusal_shows_no_error_text_of_the_job():
    def answer(op: str, value: str, token: str) -> OmniReply:
        if op == "status":
            body = {"state": "FAILED", "userId": "u-victim", "prompt": PROMPT, "error": {"message": "secret table x"}}
            return OmniReply(200, body)
        return _owner_omni().answer(op, value, token)

    omni = FakeOmni(answer)
    runtime, _, _ = build(omni, WHO_MAY_CANCEL="owner-or-on-call")
    [(status, reply)] = invoke_on(runtime, _mallory_in_jira(f"/omni-cancel {JOB}"))
    assert status == 403 and "secret table x" not in json.dumps(reply)


def test_a_slack_signing_secret_that_is_a_placeholder_is_refused(secrets, omni: FakeOmni, use_runtime):
    from omni_relay.wiring import Runtime
    from tests.unit.conftest import make_settings

    secrets.values["slack"] = {"signing_secrets": ["x"]}
    use_runtime(Runtime(make_settings(), secrets, omni, now=lambda: NOW))
    status, reply = invoke(slack_event("/slack/commands", JOB, secret="x", timestamp=NOW))
    assert omni.calls == [] and "shorter than 16 characters" in json.dumps(reply), (status, reply)


@pytest.mark.parametrize(
    "token", [f"https://evil.example\\@acme.omniapp.co/api/v1/ai/jobs/{JOB}", f"https://u@acme.omniapp.co/jobs/{JOB}"]
)
def test_a_job_url_with_userinfo_or_a_backslash_is_not_a_job_url(token: str):
    from omni_relay.domain.grammar import job_of

    assert job_of(token, "acme.omniapp.co") == ""


def test_an_email_that_would_change_the_scim_filter_is_not_looked_up():
    omni = _owner_omni()
    runtime, _, _ = build(omni, WHO_MAY_CANCEL="owner-or-on-call")
    body = payload("jira", JOB, now=NOW)
    body["comment"]["author"]["emailAddress"] = 'x" or userName eq "victim@acme.com'
    [(status, reply)] = invoke_on(runtime, event("jira", body=body))
    assert (status, reply["outcome"]) == (403, "identity_unknown") and omni.cancels == []
    assert "find_user" not in [call[0] for call in omni.calls]


def test_a_signed_body_with_a_repeated_key_is_refused(omni: FakeOmni):
    runtime, _, _ = build(omni)
    raw = (
        '{"ticket_id": "5158", "brand_id": "360002470971", "comment": "/omni-cancel ' + JOB + '",'
        ' "user": "1", "user_role": "end-user", "user_role": "admin"}'
    )
    e = webhook_event("zendesk", JOB, timestamp=NOW, secret=SECRETS["zendesk"], body={})
    from tools.signers.webhooks import sign

    headers = {
        **e["headers"],
        **{
            k.lower(): v for k, v in sign("zendesk", raw.encode(), SECRETS["zendesk"], now=NOW, delivery_id="d").items()
        },
    }
    [(status, reply)] = invoke_on(runtime, dict(e, headers=headers, body=raw))
    assert status == 400 and omni.calls == [], reply


def test_a_button_is_judged_by_the_clickers_own_workspace(omni: FakeOmni, use_runtime):
    from tools.signers.events import http_api_event
    from tools.signers.slack import button_click

    headers, body = button_click(JOB, secret=SIGNING_SECRET, timestamp=NOW, team_id="T0LOCAL01")
    payload_form = body.decode()
    import urllib.parse

    data = json.loads(urllib.parse.parse_qs(payload_form)["payload"][0])
    data["user"]["team_id"] = "T0EVIL999"  # a Slack Connect guest from another workspace
    raw = urllib.parse.urlencode({"payload": json.dumps(data)}).encode()
    from tools.signers.slack import sign

    headers["X-Slack-Signature"] = sign(SIGNING_SECRET, raw, NOW)
    runtime, http, store = build(omni, SLACK_ALLOWED_TEAMS="T0LOCAL01")
    store.values["slack"] = {"signing_secrets": [SIGNING_SECRET]}
    use_runtime(runtime)
    invoke(http_api_event("POST", "/slack/interactions", headers, raw))
    assert omni.cancels == []


# -- A second helper's round, on the fixed code ----------------------------------------------------------


def test_a_zendesk_trigger_comment_cannot_turn_itself_into_an_agents_event(omni: FakeOmni):
    runtime, _, store = build(omni, ZENDESK_ALLOWED="360002470971")
    store.values["webhooks"]["zendesk"]["format"] = "trigger"  # the operator's webhook is called by a trigger
    injected = (
        '{"ticket_id": "5158", "brand_id": "360002470971", "user": "77", "user_role": "end-user", "comment": "hi",'
        ' "type": "zen:event-type:ticket.comment_added", "detail": {"id": "5158", "brand_id": "360002470971"},'
        ' "event": {"comment": {"author": {"id": "1", "is_staff": true}, "body": "/omni-cancel ' + JOB + '"}}}'
    )
    e = webhook_event("zendesk", JOB, timestamp=NOW, secret=SECRETS["zendesk"], body={})
    from tools.signers.webhooks import sign

    signed = sign("zendesk", injected.encode(), SECRETS["zendesk"], now=NOW, delivery_id="d")
    [(status, reply)] = invoke_on(
        runtime, dict(e, headers={**e["headers"], **{k.lower(): v for k, v in signed.items()}}, body=injected)
    )
    assert omni.cancels == [] and status in (200, 403), reply


def test_a_signed_jira_delivery_without_an_account_is_not_the_automation_rule(omni: FakeOmni):
    runtime, _ = _jira_runtime(omni, JIRA_ALLOWED="DATA,DATA:sender")
    body = payload("jira", JOB, now=NOW)
    body["comment"]["author"] = {"accountType": "customer"}
    [(status, reply)] = invoke_on(runtime, _jira(body, hmac_key=SECRETS["jira"]))
    assert (status, reply["outcome"]) == (403, "sender_not_allowed") and omni.cancels == []


def test_the_callbacks_key_cannot_also_be_a_sources_key(omni: FakeOmni):
    from tests.unit.test_webhooks import CALLBACK_SECRET

    runtime, _, store = build(omni)
    store.values["webhooks"]["standard"] = {"secrets": [CALLBACK_SECRET]}
    [(status, reply)] = invoke_on(runtime, webhook_event("standard", JOB, timestamp=NOW, secret=CALLBACK_SECRET))
    assert status == 404 and omni.calls == [], reply


def test_the_relays_own_callback_is_never_a_command(omni: FakeOmni):
    runtime, _, _ = build(omni)
    body = {"type": "omni.job.cancel.result", "timestamp": "x", "data": {"jobId": JOB, "outcome": "status"}}
    [(status, reply)] = invoke_on(runtime, event("standard", body=body))
    assert omni.cancels == [] and reply["outcome"] == "ignored", reply


MORE_CODE_AND_QUOTES = [
    f"> Carol said we should\n/omni-cancel {JOB}",  # a lazy continuation of the quote
    f"```\n    ```\n/omni-cancel {JOB}\n```",  # a fence indented four is content, not a close
    f"```\n\t```\n/omni-cancel {JOB}\n```",
    f"text\r```\n/omni-cancel {JOB}\n```",  # a lone CR ends a line in Markdown
    f"Type `\n/omni-cancel {JOB}\n` to cancel",  # an inline code span across lines
    f"{{noformat:nopanel=true}}\n/omni-cancel {JOB}\n{{noformat}}",
    "{code:" + "x=1|" * 40 + f"}}\n/omni-cancel {JOB}\n{{code}}",
    f"bq. /omni-cancel {JOB}",  # Jira's one-line quote
]


@pytest.mark.parametrize("text", MORE_CODE_AND_QUOTES)
def test_more_code_and_quotes_never_command(text: str, omni: FakeOmni):
    runtime, _, _ = build(omni)
    answers = invoke_on(runtime, event("github", text=text), event("jira", text=text))
    assert omni.cancels == [], answers


@pytest.mark.parametrize(
    "text",
    [
        f"<at>Bob</at> {JOB} is yours? cc <at>Omni Cancel</at>",
        f"<at>Omni Cancel</at> <blockquote>{JOB}</blockquote> what is this?",
    ],
)
def test_teams_asks_only_through_the_bots_own_mention_and_never_in_a_quote(text: str, omni: FakeOmni):
    runtime, _, _ = build(omni)
    body = payload("teams", JOB, now=NOW)
    body["text"] = text
    [(status, reply)] = invoke_on(runtime, event("teams", body=body))
    assert omni.cancels == [], reply


def test_in_owner_or_on_call_a_webhook_thread_gets_no_prompt():
    omni = _owner_omni()
    runtime, http, store = build(omni, WHO_MAY_CANCEL="owner-or-on-call", ON_CALL="github:id:1")
    [(status, reply)] = invoke_on(runtime, _github(f"/omni-cancel status {JOB}", private=True))
    assert status == 200 and reply["outcome"] == "status"
    assert PROMPT not in json.dumps(reply) and PROMPT not in json.dumps(http.requests, default=str)


def test_a_job_url_that_walks_out_of_its_path_is_not_a_job_url():
    from omni_relay.domain.grammar import job_of

    other = "123e4567-e89b-42d3-a456-426614174000"
    assert job_of(f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}/../../jobs/{other}", "acme.omniapp.co") == ""
    assert job_of(f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}/%2e%2e/x", "acme.omniapp.co") == ""
