"""Every regex and parser that reads untrusted input stays linear up to the largest body the relay can be
set to accept (the template's MaxBodyBytes maximum): adversarial input (nested and unclosed tags, repeated
prefixes, long runs, near-miss ids, multi-byte case folds) of 64 KB is read in under 50 ms, and of the
maximum in no more than its size's share of that (with room for a busy machine), one run each."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omni_relay.adapters.omni_replies import job_details
from omni_relay.domain.grammar import parse_texts
from omni_relay.domain.model import CancelOutcome, JobDetails, JobState, Outcome
from omni_relay.domain.timestamps import iso_seconds, unix_seconds
from omni_relay.errors import RelayError
from omni_relay.presentation.markup import code_span, teams_literal
from omni_relay.presentation.messages import full_text
from omni_relay.presentation.slack_blocks import escape
from omni_relay.redaction import redact
from omni_relay.sources.slack import parse_form
from omni_relay.sources.teams import _MENTION
from omni_relay.sources.webhook import parse_json

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

SMALL = 64 * 1024
SIZE = 4 * 1024 * 1024  # the template's MaxBodyBytes maximum (test_the_size_is_the_largest_body_the_template_allows)
NEAR_UUID = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f0"  # one hex digit short


def fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# name -> the unit repeated to make the input (twice the size for the nested tags: opened, then closed)
UNITS = {
    "unclosed tags": ("<at>",),
    "nested tags": ("<at><at>", "</at>"),
    "one long run": ("a",),
    "repeated url prefix": ("/jobs/",),
    "near-miss ids": (NEAR_UUID + " ",),
    "near-miss ids without spaces": (NEAR_UUID + "-",),
    "case folds that change length": ("İ",),
    "backtick runs": ("`a``",),
    "markdown punctuation": ("[](*_)",),
    "command word prefixes": ("/omni-cance",),
    "status words": ("status ",),
    "whitespace": (" \t\n",),
    "query strings and tokens": ("/x?token=a&",),
    "authorization headers": ("Authorization: Bearer ",),
}


def adversarial(name: str, size: int) -> str:
    return "".join(fill(unit, size) for unit in UNITS[name])


def command_word(text: str) -> Any:
    return re.compile(re.escape("/omni-cancel"), re.IGNORECASE).search(text)


def full_reply(text: str) -> str:
    details = JobDetails(prompt=text, progress=text, error=text, chat_url="https://x/" + text[:900])
    return full_text(CancelOutcome("j", Outcome.STOPPING, JobState.EXECUTING, job=details), code_span)


def form(text: str) -> Any:
    try:
        return parse_form(("text=" + text + "&a=" + text).encode())
    except RelayError:
        return None


def as_json(text: str) -> Any:
    deep = "[" * (len(text) // 2)
    for body in (deep, deep + "]" * len(deep), "[[]," * (len(text) // 4) + "[]]", json.dumps({"comment": text})):
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
    "Omni's job status": lambda t: job_details({"prompt": t, "progress": {"message": t}, "createdAt": t}),
    "log line redaction": redact,
}


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_each_parser_is_linear_on_adversarial_input(parser: str):
    run = PARSERS[parser]
    for name in UNITS:
        small = min(_timed(run, adversarial(name, SMALL)) for _ in range(3))  # a GC pause is not the parser
        assert small < 0.05, f"{parser} took {small * 1000:.0f} ms on 64 KB of {name}"
        # The maximum once (twice if a busy machine made the first slow): linear, give or take four times
        # (caches and allocation at 64 times the size); a quadratic parser would take 64 times more again.
        allowed = max(4 * small * SIZE / SMALL, 0.5)
        large = _timed(run, adversarial(name, SIZE))
        large = large if large < allowed else min(large, _timed(run, adversarial(name, SIZE)))
        assert large < allowed, (
            f"{parser} took {large:.2f} s on {SIZE} bytes of {name} ({small * 1000:.1f} ms on 64 KB)"
        )


def test_the_size_is_the_largest_body_the_template_allows():
    from samcli.yamlhelper import yaml_parse

    assert int(yaml_parse(TEMPLATE.read_text())["Parameters"]["MaxBodyBytes"]["MaxValue"]) == SIZE


def _timed(run: Callable[[str], Any], text: str) -> float:
    started = time.perf_counter()
    run(text)
    return time.perf_counter() - started
