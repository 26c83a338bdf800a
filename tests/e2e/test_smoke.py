"""`make smoke` checks a running relay without Slack: it passes against the local stack and fails
against a relay holding another signing secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.slack_signer import DEV_SIGNING_SECRET
from local.smoke import run
from local.stack import LocalStack
from tests.e2e.helpers import stack_config


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config()) as running:
        yield running


def test_smoke_passes_against_the_local_stack(stack: LocalStack):
    lines: list[str] = []
    assert run(stack.url, DEV_SIGNING_SECRET, lines.append) == 0, lines
    assert sum(line.startswith("PASS") for line in lines) == 4


def test_smoke_fails_with_a_wrong_signing_secret(stack: LocalStack):
    lines: list[str] = []
    assert run(stack.url, "someone-elses-signing-secret", lines.append) == 1
    assert [line.split()[0] for line in lines[:4]] == ["PASS", "FAIL", "PASS", "PASS"], lines
