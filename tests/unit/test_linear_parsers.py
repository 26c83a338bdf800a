"""Every regex and parser that reads untrusted input finishes 64 KB of adversarial input in under
50 ms: nested and unclosed tags, repeated prefixes, long runs, near-miss ids, multi-byte case folds."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from omni_relay.domain import CancelOutcome, JobDetails, JobState, Outcome
from omni_relay.errors import RelayError
from omni_relay.grammar import parse_texts
from omni_relay.markup import code_span, teams_literal
from omni_relay.messages import full_text
from omni_relay.signing import iso_seconds, unix_seconds
from omni_relay.sources.slack import parse_form
from omni_relay.sources.slack_blocks import escape
from omni_relay.sources.teams import _MENTION
from omni_relay.sources.webhook import parse_json

SIZE = 64 * 1024
NEAR_UUID = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f0"  # one hex digit short


def fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


ADVERSARIAL = {
    "unclosed tags": fill("<at>"),
    "nested tags": fill("<at><at>") + fill("</at>"),
    "one long run": "a" * SIZE,
    "repeated url prefix": fill("/jobs/"),
    "near-miss ids": fill(NEAR_UUID + " "),
    "near-miss ids without spaces": fill(NEAR_UUID + "-"),
    "case folds that change length": fill("İ"),
    "backtick runs": fill("`a``"),
    "markdown punctuation": fill("[](*_)"),
    "command word prefixes": fill("/omni-cance"),
    "status words": fill("status "),
    "whitespace": " \t\n" * (SIZE // 3),
}


def command_word(text: str) -> Any:
    return re.compile(re.escape("/omni-cancel"), re.IGNORECASE).search(text)


def full_reply(text: str) -> str:
    details = JobDetails(prompt=text, progress=text, error=text, chat_url="https://x/" + text[:900])
    return full_text(CancelOutcome("j", Outcome.STOPPING, JobState.EXECUTING, details=details), code_span)


def form(text: str) -> Any:
    try:
        return parse_form(("text=" + text + "&a=" + text).encode())
    except RelayError:
        return None


def as_json(text: str) -> Any:
    for body in ("[" * len(text), json.dumps({"comment": text})):
        with contextlib.suppress(RelayError):
            parse_json(body.encode())


PARSERS: dict[str, Callable[[str], Any]] = {
    "the Teams mention": lambda t: _MENTION.sub(" ", t),
    "the command grammar": lambda t: parse_texts([t, "/omni-cancel status " + t], "/omni-cancel", "acme.omniapp.co"),
    "the command word": command_word,
    "Markdown code span": code_span,
    "Teams escaping": teams_literal,
    "Slack escaping": escape,
    "a reply with Omni's text": full_reply,
    "Slack's form": form,
    "JSON bodies": as_json,
    "ISO and Unix times": lambda t: (iso_seconds(t), unix_seconds(t)),
    "Omni's job status": lambda t: JobDetails.from_status({"prompt": t, "progress": {"message": t}, "createdAt": t}),
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_each_parser_is_linear_on_adversarial_input(parser: str):
    run = PARSERS[parser]
    for name, text in ADVERSARIAL.items():
        best = min(_timed(run, text) for _ in range(3))  # the best of three: a GC pause is not the parser
        assert best < 0.05, f"{parser} took {best * 1000:.0f} ms on {name}"


def _timed(run: Callable[[str], Any], text: str) -> float:
    started = time.perf_counter()
    run(text)
    return time.perf_counter() - started
