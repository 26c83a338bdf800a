"""The fault matrix: each fault made real on loopback (moto server for Secrets Manager, SQS and
DynamoDB, the Omni emulator, a capture server for response_url), the relay built from its
environment as in Lambda, one signed Slack request per case. Each case has one expected answer
for the person and one expected log line or metric for the operator."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

import relay_app
from local.cloud.gateway import LambdaContext, http_api_event
from local.cloud.lambda_runtime import free_port
from local.standins.capture import CaptureServer
from local.standins.omni_emulator import OmniEmulator
from omni_relay import wiring
from omni_relay.observability import logger
from tests.integration.conftest import point_aws_at, reset_powertools_parameters
from tools.signers.slack import button_click, slash_command

SIGNING_SECRET = "fault-matrix-signing-secret"
ORG_KEY = "fault-matrix-org-key"
BOB_PAT = "fault-matrix-bob-pat"
TEAM, ALICE, BOB = "T0FAULTS1", "U0ALICE01", "U0BOB0001"


@dataclass
class World:
    omni: OmniEmulator
    capture: CaptureServer
    moto_url: str
    monkeypatch: pytest.MonkeyPatch
    job: str = ""
    user: str = ALICE
    env: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: Any) -> None:
        secrets = boto3.client("secretsmanager", endpoint_url=self.moto_url, region_name="us-east-1")
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            secrets.put_secret_value(SecretId=name, SecretString=text)
        except secrets.exceptions.ResourceNotFoundException:
            secrets.create_secret(Name=name, SecretString=text)

    def delete(self, name: str) -> None:
        secrets = boto3.client("secretsmanager", endpoint_url=self.moto_url, region_name="us-east-1")
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[OmniEmulator, CaptureServer, str]]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    with OmniEmulator() as omni, CaptureServer() as capture:
        omni.add_key(ORG_KEY)
        omni.add_key(BOB_PAT, user="bob", admin=False)
        omni.state.rate_limit = 10**6
        yield omni, capture, f"http://127.0.0.1:{port}"
    moto.stop()
    reset_powertools_parameters()  # its cached Secrets Manager client points at this moto server


@pytest.fixture
def world(servers: tuple[OmniEmulator, CaptureServer, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    omni, capture, moto_url = servers
    omni.set_faults()
    point_aws_at(monkeypatch, moto_url, AWS_MAX_ATTEMPTS="1")
    w = World(omni, capture, moto_url, monkeypatch)
    w.put("slack", {"signing_secrets": [SIGNING_SECRET]})
    w.put("omni", {"api_key": ORG_KEY, "user_tokens": {f"{TEAM}:{BOB}": BOB_PAT}})
    w.env = {
        "OMNI_BASE_URL": omni.base_url,
        "OMNI_SECRET_ID": "omni",
        "SLACK_SECRET_ID": "slack",
        "SLACK_ALLOWED_TEAMS": TEAM,
        "SLACK_ALLOWED_USERS": f"{ALICE},{BOB}",  # Bob cancels with his own token
        "SECRETS_MAX_AGE_S": "0",  # each case reads the secrets as they are now
        "SLACK_DEADLINE_MS": "2000",
        "POSTBACK_HOSTS": capture.host,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
    w.job = omni.create_job(key=ORG_KEY, pinned="QUEUED")
    stream, level = logger.registered_handler.stream, logger.log_level
    yield w
    logger.registered_handler.stream = stream  # no flush: the test's stream is closed by now
    logger.setLevel(level)
    wiring.use(None)
    omni.set_faults()


def slack_command(world: World, user: str) -> dict[str, Any]:
    headers, body = slash_command(world.job, secret=SIGNING_SECRET, team_id=TEAM, user_id=user)
    return http_api_event("POST", "/slack/commands", headers, body)


def environment(world: World, *, fresh: bool = True) -> None:
    """The relay as a Lambda environment would start: settings from the environment, logs to stdout."""
    for key, value in world.env.items():
        world.monkeypatch.setenv(key, value)
    if fresh:
        wiring.use(None)
    # The Logger keeps the stream it was given at import; point it at this test's captured stdout.
    logger.registered_handler.stream = sys.stdout
    logger.setLevel("INFO")


def send(world: World, *, fresh: bool = True) -> tuple[int, str]:
    """A signed slash command to the relay built from the environment (as a fresh Lambda would)."""
    environment(world, fresh=fresh)
    result = relay_app.lambda_handler(slack_command(world, world.user), LambdaContext())
    body = json.loads(result["body"] or "{}")
    return result["statusCode"], body.get("text") or body.get("message") or ""


def emitted(output: str, metric: str, **dimensions: str) -> bool:
    """Whether an EMF blob for `metric` with these dimension values was printed."""
    for line in output.splitlines():
        if f'"{metric}"' not in line or not line.startswith("{"):
            continue
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if metric in blob and all(blob.get(k) == v for k, v in dimensions.items()):
            return True
    return False


def logged(output: str, message: str) -> bool:
    return any(f'"message":"{message}' in line for line in output.splitlines())


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[World], None]
    reply: str  # words the person reads
    operator: Callable[[str], bool]  # the log line or metric the operator sees


def _omni_fault(**faults: Any) -> Callable[[World], None]:
    return lambda w: w.omni.set_faults(count=-1, **faults)


def _unreachable_secrets(w: World) -> None:
    point_aws_at(w.monkeypatch, f"http://127.0.0.1:{free_port()}", AWS_MAX_ATTEMPTS="1")


def _delivering(w: World) -> None:
    w.job = w.omni.create_job(key=ORG_KEY, pinned="DELIVERING")


def _queue_down(w: World) -> None:
    w.omni.set_faults(status=503, count=-1)
    w.env["CANCEL_QUEUE_URL"] = f"http://127.0.0.1:{free_port()}/000000000000/tasks"


def _someone_elses_job(w: World) -> None:
    """Bob, with his own Omni token (not an admin), on Carol's job."""
    w.user = BOB
    w.job = w.omni.create_job(owner="carol", pinned="EXECUTING")


def _set(**env: str) -> Callable[[World], None]:
    return lambda w: w.env.update(env)


CASES = [
    Case(
        "secrets manager unreachable",
        _unreachable_secrets,
        "cannot read its Slack settings",
        lambda out: emitted(out, "RejectedRequests", reason="settings_unavailable"),
    ),
    Case(
        "slack secret missing",
        lambda w: w.delete("slack"),
        "cannot read its Slack settings",
        lambda out: logged(out, "request rejected"),
    ),
    Case(
        "slack secret without a signing secret",
        lambda w: w.put("slack", {"other": "x"}),
        "has no signing secret",
        lambda out: emitted(out, "RejectedRequests", reason="settings_unavailable"),
    ),
    Case(
        "omni secret not JSON",
        lambda w: w.put("omni", "api_key=oops"),
        "cannot read its settings right now",
        lambda out: logged(out, "cannot read the Omni secret"),
    ),
    Case(
        "omni secret missing its fields",
        lambda w: w.put("omni", {"note": "empty"}),
        "not set up to cancel jobs",
        lambda out: logged(out, "cancel refused by the relay"),
    ),
    Case(
        "omni 400 not cancellable",
        _delivering,
        "can no longer be cancelled",
        lambda out: emitted(out, "OmniErrors", reason="400"),
    ),
    Case(
        "omni 401, key not rotated",
        lambda w: w.put("omni", {"api_key": "revoked-key"}),
        "refused the relay's credentials",
        lambda out: logged(out, "Omni refused the relay's credential"),
    ),
    Case(
        "omni 403, not the owner",
        _someone_elses_job,
        "only the job's owner or an Omni org admin",
        lambda out: emitted(out, "OmniErrors", reason="403"),
    ),
    Case(
        "omni 404, unknown job",
        lambda w: setattr(w, "job", "0b5f2a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"),
        "No job",
        lambda out: emitted(out, "OmniErrors", reason="404"),
    ),
    Case(
        "omni 409",
        _omni_fault(status=409),
        "rate-limiting requests right now",
        lambda out: emitted(out, "OmniErrors", reason="409"),
    ),
    Case(
        "omni 429 with Retry-After",
        _omni_fault(status=429, retry_after="1"),
        "rate-limiting requests right now",
        lambda out: emitted(out, "OmniErrors", reason="429"),
    ),
    Case(
        "omni 429 without Retry-After",
        _omni_fault(status=429),
        "rate-limiting requests right now",
        lambda out: emitted(out, "OmniErrors", reason="429"),
    ),
    Case(
        "omni 500",
        _omni_fault(status=500),
        "did not respond in time",
        lambda out: emitted(out, "Outcomes", outcome="omni_unavailable"),
    ),
    Case(
        "omni 503",
        _omni_fault(status=503),
        "did not respond in time",
        lambda out: emitted(out, "OmniErrors", reason="503"),
    ),
    Case(
        "omni slower than the deadline",
        lambda w: w.omni.set_faults(latency_s=4),
        "did not respond in time",
        lambda out: emitted(out, "OmniErrors", reason="ReadTimeoutError"),
    ),
    Case(
        "omni refuses connections",
        _set(OMNI_BASE_URL=f"http://127.0.0.1:{free_port()}/api"),
        "did not respond in time",
        lambda out: emitted(out, "Outcomes", outcome="omni_unavailable"),
    ),
    Case(
        "omni resets mid-response",
        _omni_fault(mode="reset"),
        "did not respond in time",
        lambda out: emitted(out, "Outcomes", outcome="omni_unavailable"),
    ),
    Case(
        "omni answers non-JSON",
        _omni_fault(mode="non_json"),
        "answered in a way I did not expect",
        lambda out: emitted(out, "Outcomes", outcome="unexpected_reply"),
    ),
    Case(
        "omni 200 with an unknown state",
        _omni_fault(mode="odd_state"),
        "answered in a way I did not expect",
        lambda out: emitted(out, "Outcomes", outcome="unexpected_reply"),
    ),
    Case(
        "queue unreachable at hand-off",
        _queue_down,
        "did not respond in time",
        lambda out: emitted(out, "HandoffFailures"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_fault_has_one_answer_and_one_signal(case: Case, world: World, capfd: pytest.CaptureFixture[str]):
    case.setup(world)
    status, text = send(world)
    out = capfd.readouterr().out
    assert status == 200, text  # Slack shows anything else as an error
    assert case.reply in text, text
    assert case.operator(out), out[-3000:]
    for secret in (SIGNING_SECRET, ORG_KEY, BOB_PAT, "revoked-key"):
        assert secret not in text and secret not in out


def test_a_rotated_omni_key_is_read_again_once(world: World, capfd: pytest.CaptureFixture[str]):
    world.env["SECRETS_MAX_AGE_S"] = "300"  # cached, as in production
    assert "Cancelled" in send(world)[1]
    world.omni.add_key("rotated-org-key")
    del world.omni.state.credentials[ORG_KEY]  # the old key stops working ...
    world.put("omni", {"api_key": "rotated-org-key"})  # ... and the secret holds the new one
    world.job = world.omni.create_job(key="rotated-org-key", pinned="QUEUED")
    # The same execution environment, with the old key cached: 401, the secret read again once, success.
    status, text = send(world, fresh=False)
    out = capfd.readouterr().out
    world.omni.add_key(ORG_KEY)
    assert status == 200 and "Cancelled" in text
    assert logged(out, "Omni refused the cached key; retrying with the re-read one")


def _button(world: World, response_url: str) -> dict[str, Any]:
    headers, body = button_click(
        world.job, team_id=TEAM, user_id=ALICE, response_url=response_url, secret=SIGNING_SECRET
    )
    return http_api_event("POST", "/slack/interactions", headers, body)


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_response_url_is_logged_and_counted(status: int, world: World, capfd: pytest.CaptureFixture[str]):
    environment(world)
    world.capture.status = status
    try:
        result = relay_app.lambda_handler(_button(world, world.capture.url(f"/gone/{status}")), LambdaContext())
    finally:
        world.capture.status = 200
    out = capfd.readouterr().out
    assert result["statusCode"] == 200  # the click is acknowledged; the cancel itself happened
    assert world.omni.job_state(world.job) == "CANCELLED"
    assert emitted(out, "PostBackFailures", reason=str(status))
    # and once with the service dimension only: what PostBackFailuresAlarm reads
    assert any(
        '"PostBackFailures"' in line and json.loads(line).get("service") and "reason" not in json.loads(line)
        for line in out.splitlines()
        if line.startswith("{")
    )


def test_dynamodb_unreachable_fails_open(world: World, capfd: pytest.CaptureFixture[str]):
    """The documented choice: without the de-duplication table a click still cancels (Omni's cancel is
    idempotent); the operator sees DedupeUnavailable."""
    world.env["IDEMPOTENCY_TABLE"] = "omni-cancel-relay-idempotency"
    world.env["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{free_port()}"  # only DynamoDB is down
    environment(world)
    result = relay_app.lambda_handler(_button(world, world.capture.url("/dedupe-down")), LambdaContext())
    out = capfd.readouterr().out
    assert result["statusCode"] == 200
    assert world.capture.wait_for("/dedupe-down", timeout=5)
    assert world.omni.job_state(world.job) == "CANCELLED"
    assert emitted(out, "DedupeUnavailable")
