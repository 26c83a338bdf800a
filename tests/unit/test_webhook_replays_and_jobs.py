"""A captured authentic delivery acts once whatever its unsigned parts say; the job cancelled is the
one the person named; GitHub's event type is the signed body's; signed times bound replays; a
person's own token only where their vendor vouches for them; the relay never answers itself."""

from __future__ import annotations

import json

from tests.fakes import FakeOmni
from tests.unit.test_webhooks import JOB, build, event, invoke_on

A = JOB
B = "0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def github(text: str, *, delivery_id: str | None = "d-1", body: dict | None = None) -> dict:
    """A signed GitHub delivery asking to cancel `text`'s job, with its unsigned delivery id set or removed."""
    signed = event("github", text=text, body=body, delivery_id=delivery_id or "x")
    if delivery_id is None:
        del signed["headers"]["x-github-delivery"]
    return signed


def test_the_same_signed_bytes_under_other_repeated_or_missing_delivery_ids_cancel_and_comment_once():
    omni = FakeOmni()
    runtime, http, _ = build(omni)
    sent = [github(f"/omni-cancel {A}", delivery_id=d) for d in ("d-1", "d-1", "d-2", None)]
    replies = invoke_on(runtime, *sent)
    assert {status for status, _ in replies} == {200} and {r["jobId"] for _, r in replies} == {A}
    assert [call[1] for call in omni.cancels] == [A]
    assert len([r for r in http.requests if "/issues/42/comments" in r["url"]]) == 1


def test_the_job_named_right_after_the_command_word_is_cancelled():
    for text in (
        f"/omni-cancel {A} (spawned by https://acme.omniapp.co/api/v1/ai/jobs/{B})",
        "İ" * 45 + f"\n/omni-cancel {A} -- do NOT touch {B}",
        f"please:\n  /OMNI-CANCEL {A}, not {B}",
    ):
        omni = FakeOmni()
        runtime, _, _ = build(omni)
        [(status, reply)] = invoke_on(runtime, github(text))
        assert (status, reply["jobId"]) == (200, A), text
        assert [call[1] for call in omni.cancels] == [A], text


def test_a_signed_body_of_another_event_relabelled_issue_comment_is_not_acted_on():
    discussion = {
        "action": "created",
        "discussion": {"number": 7},
        "comment": {"id": 3, "body": f"/omni-cancel {A}", "user": {"login": "octocat", "type": "User"}},
        "repository": {"full_name": "acme/data-platform"},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    }
    omni = FakeOmni()
    runtime, _, _ = build(omni)
    [(status, reply)] = invoke_on(runtime, github("", body=discussion))
    assert (status, reply["outcome"]) == (200, "ignored") and "not an issue_comment" in reply["message"]
    assert omni.cancels == []


# -- signed times: a captured delivery is acted on only inside its vendor's window ------------------


def aged(source: str, seconds: int, **options: object) -> dict:
    """A delivery `source` signed `seconds` before the relay's clock (NOW)."""
    from tests.unit.test_webhooks import NOW, SECRETS
    from tools.signers.events import webhook_event

    return webhook_event(source, A, timestamp=NOW - seconds, secret=SECRETS[source], **options)


def test_deliveries_signed_outside_their_vendors_window_are_refused():
    for source, too_old, fresh_enough in (
        ("zendesk", 2 * 3600, 50 * 60),  # the signature timestamp
        ("jira", 2 * 3600, 50 * 60),  # the body's timestamp (Atlassian retries up to 30 minutes late)
        ("pagerduty", 50 * 3600, 47 * 3600),  # occurred_at (PagerDuty retries for up to 48 hours)
        ("github", 2 * 3600, 50 * 60),  # the comment's created_at
        ("teams", 2 * 3600, 50 * 60),  # the activity's timestamp
    ):
        omni = FakeOmni()
        runtime, _, _ = build(omni)
        [(old_status, old_reply), (status, _)] = invoke_on(runtime, aged(source, too_old), aged(source, fresh_enough))
        assert (old_status, old_reply.get("error")) == (401, "stale_request") or (
            source == "teams" and old_status == 200 and "signed timestamp" in old_reply["text"]
        ), source
        assert status == 200 and len(omni.cancels) == 1, source


def test_a_fresh_zendesk_delivery_resent_under_another_invocation_id_cancels_once():
    from tests.unit.test_webhooks import NOW
    from tools.signers.webhooks import payload

    body = payload("zendesk", A, now=NOW)
    omni = FakeOmni()
    runtime, http, _ = build(omni)
    invoke_on(runtime, *(event("zendesk", body=body, delivery_id=d) for d in ("inv-1", "inv-2")))
    assert len(omni.cancels) == 1
    assert len([r for r in http.requests if "/tickets/" in r["url"]]) == 1


def test_a_signed_body_is_remembered_as_long_as_its_window():
    from tests.fakes import MemoryDedupe

    omni = FakeOmni()
    runtime, _, _ = build(omni)
    invoke_on(runtime, event("pagerduty"), event("github"))
    assert isinstance(runtime.dedupe, MemoryDedupe)
    ttls = {key.split(":")[1]: ttl for key, ttl in runtime.dedupe.ttls.items()}
    assert ttls["pagerduty"] >= 49 * 3600 and ttls["github"] >= 3600


def test_the_same_signed_slack_command_twice_is_a_replay(use_runtime):
    from omni_relay.wiring import Runtime
    from tests.fakes import FakeSecretStore
    from tests.unit.conftest import NOW, OMNI_KEY, SIGNING_SECRET, load_event, make_settings
    from tests.unit.test_relay_handler import invoke, signed

    store = FakeSecretStore({"slack": {"signing_secrets": [SIGNING_SECRET]}, "omni": {"api_key": OMNI_KEY}})
    omni = FakeOmni()
    use_runtime(Runtime(make_settings(), store, omni, now=lambda: NOW))
    first, replayed = invoke(signed("slack_command_cancel.json")), invoke(signed("slack_command_cancel.json"))
    assert first[0] == 200 and replayed == (401, {"error": "replayed_request", "message": replayed[1]["message"]})
    assert len(omni.cancels) == 1
    assert load_event  # the committed event, signed twice with the same timestamp: byte-identical


# -- identity: the allow-list first, and a person's token only where the vendor vouches for them ----


def test_a_mapped_token_never_bypasses_an_empty_or_missing_allow_list():
    omni = FakeOmni()
    runtime, _, store = build(omni, STANDARD_ALLOWED="", GITHUB_ALLOWED="acme/other")
    store.values["omni"] = {
        "api_key": "org-key",
        "user_tokens": {"standard:runbook-bot": "bot-pat", "github:octocat": "o-pat"},
    }
    replies = invoke_on(runtime, event("standard"), event("github"))
    assert [reply["outcome"] for _, reply in replies] == ["not_configured", "sender_not_allowed"]
    assert omni.cancels == []


def test_a_token_is_used_only_for_an_identity_the_vendor_signed():
    omni = FakeOmni()
    runtime, _, store = build(omni)
    tokens = {
        "standard:claimed:runbook-bot": "bot-pat",
        "github:id:1": "octocat-pat",
        "jira:account:5b10a2844c20165700ede21g": "ada-pat",
    }
    store.values["omni"] = {"api_key": "org-key", "user_tokens": tokens}
    automation = aged("jira", 0, text=f"/omni-cancel {A} from a rule")
    del automation["headers"]["x-hub-signature"]
    automation["headers"]["x-omni-relay-token"] = store.values["webhooks"]["jira"]["tokens"][0]
    invoke_on(runtime, event("standard"), event("github"), event("jira"), automation)
    # requestedBy is written by whoever holds the secret, and so is an Automation rule's body: the org key.
    # The rule's cancel, with the org key that cancelled the job first, is answered from the relay's record
    # of that cancel (a personal token would have been sent to Omni).
    assert [token for _, _, token in omni.cancels] == ["org-key", "octocat-pat", "ada-pat"]


def test_an_operator_may_trust_a_claimed_identity_per_source():
    omni = FakeOmni()
    runtime, _, store = build(omni, TRUST_SENDER_IDENTITY="standard")
    store.values["omni"] = {"api_key": "org-key", "user_tokens": {"standard:runbook-bot": "bot-pat"}}
    invoke_on(runtime, event("standard"))
    assert [token for _, _, token in omni.cancels] == ["bot-pat"]


def test_github_senders_match_by_numeric_id_whatever_their_login():
    omni = FakeOmni()
    renamed = {**_github_body(), "sender": {"login": "new-name", "id": 583231, "type": "User"}}
    runtime, _, store = build(omni, GITHUB_ALLOWED="acme/data-platform:id:583231")
    store.values["omni"] = {"api_key": "org-key", "user_tokens": {"github:id:583231": "pat-583231"}}
    [(status, reply)] = invoke_on(runtime, github("", body=renamed))
    assert (status, reply["outcome"]) == (200, "cancelled")
    assert omni.cancels[0][2] == "pat-583231"


def _github_body() -> dict:
    from tests.unit.test_webhooks import NOW
    from tools.signers.webhooks import payload

    return payload("github", A, now=NOW)


# -- the JMESPath job id is for commands only; the relay never answers itself -----------------------


def test_a_configured_job_path_applies_only_to_a_comment_with_the_command_word():
    body = _github_body()
    body["issue"]["title"] = f"https://acme.omniapp.co/api/v1/ai/jobs/{B}"  # the value must be a job token
    omni = FakeOmni()
    runtime, _, _ = build(omni, GITHUB_JOB_ID_PATH="issue.title")
    chat = {**body, "comment": {**body["comment"], "body": "any news on this?"}}
    command = {**body, "comment": {**body["comment"], "body": "/omni-cancel please"}}
    [(_, ignored), (_, acted)] = invoke_on(runtime, github("", body=chat), github("", body=command, delivery_id="d-2"))
    assert ignored["outcome"] == "ignored" and acted["jobId"] == B
    assert [call[1] for call in omni.cancels] == [B]


def test_the_relays_own_comment_is_never_a_command_whatever_the_command_word():
    from omni_relay.presentation.messages import RELAY_MARK

    for source in ("jira", "zendesk", "pagerduty", "linear", "github"):
        omni = FakeOmni()
        runtime, http, _ = build(omni, COMMAND_WORD="cancel")
        [(status, reply)] = invoke_on(runtime, event(source, text=f"cancel {A}"))
        assert reply["outcome"] == "cancelled", source
        [posted] = [r for r in http.requests if r["url"] != "https://hooks.acme.example/omni-results"]
        said = json.dumps(posted["body"], ensure_ascii=False)
        assert RELAY_MARK in said, source
        own = f"Cancelled Omni AI job {B}.\n{RELAY_MARK}"  # what the relay wrote, delivered back to it
        [(status, reply)] = invoke_on(runtime, event(source, text=own, delivery_id="again"))
        assert (status, reply["outcome"]) == (200, "ignored") and len(omni.cancels) == 1, source
