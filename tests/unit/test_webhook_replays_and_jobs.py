"""A captured authentic delivery acts once whatever its unsigned parts say; the job cancelled is the
one the person named; GitHub's event type is the signed body's; parsers of untrusted text are linear."""

from __future__ import annotations

import time

from omni_relay.jobref import find_job_id
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
        "İ" * 45 + f" /omni-cancel {A} -- do NOT touch {B}",
        f"please /OMNI-CANCEL {A}, not {B}",
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


def test_untrusted_text_is_parsed_in_linear_time():
    from omni_relay.sources.teams import _MENTION

    adversarial = [
        "<at>" * 16384,  # unclosed mentions
        "a" * 65536,
        "/jobs/" * 10922,
        ("3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f0" + " ") * 1820,  # almost-UUIDs
        "İ" * 32768,
    ]
    for text in adversarial:
        started = time.perf_counter()
        _MENTION.sub(" ", text)
        find_job_id(text)
        assert time.perf_counter() - started < 0.05, text[:20]
