"""`make smoke` checks a running relay without Slack: it passes against the local stack and fails
against a relay holding another signing secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.signers.slack import DEV_SIGNING_SECRET
from tools.smoke import run


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


def test_the_stacks_stand_ins_answer_without_a_nagle_stall(stack: LocalStack):
    """Every reply after a connection's first would wait 40 ms for a delayed ACK (Nagle's algorithm
    on the server, headers and body written apart): a cost no AWS service, Omni or Slack adds, which
    once put 40 ms into every cold start the bench measured. Twelve keep-alive requests each."""
    import time

    import urllib3

    environment = stack.environments["RelayFunction"]
    extension = environment["SECRETS_EXTENSION_PORT"]
    targets = {
        "moto": (stack.moto_url, "/moto-api/reset-auth"),
        "IAM gate in front of moto": (environment["AWS_ENDPOINT_URL"], "/moto-api/reset-auth"),
        "omni emulator": (stack.omni.base_url, "/v1/ai/jobs/00000000-0000-0000-0000-000000000000"),
        "secrets extension": (f"http://127.0.0.1:{extension}", "/secretsmanager/get?secretId=x"),
        "relay gateway": (stack.url, "/no-such-route"),
    }
    for name, (base, path) in targets.items():
        pool = urllib3.connection_from_url(base, maxsize=1, block=True)
        pool.urlopen("GET", path, retries=False)  # the connection's first reply is never held back
        started = time.perf_counter()
        for _ in range(12):
            pool.urlopen("GET", path, retries=False)
        assert time.perf_counter() - started < 0.3, name


def test_tools_send_signs_a_command_the_stack_answers(stack: LocalStack):
    """The README's `python -m tools.send <job>`, run as a user runs it, against this stack."""
    import subprocess
    import sys

    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    sent = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "tools.send", "--url", stack.url, f"status {job}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    assert job in sent.stdout and "QUEUED" in sent.stdout.upper(), sent.stdout
