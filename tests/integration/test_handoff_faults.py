"""Faults around the hand-off: the queue unreachable, the de-duplication table unreachable,
a response_url that answers 404/500. Each has one expected answer for the requester."""

from __future__ import annotations

import pytest

from local.cloud.lambda_runtime import free_port
from local.standins.capture import CaptureServer
from omni_relay.adapters.dedupe import DynamoDedupe
from omni_relay.adapters.omni import OmniReply
from omni_relay.adapters.sqs_queue import SqsTaskQueue
from omni_relay.domain.identity import Requester
from omni_relay.domain.model import ReplyTarget
from omni_relay.domain.tasks import CancelTask
from omni_relay.errors import QueueFailed
from omni_relay.settings import Settings
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore, MemoryQueue
from tests.integration.conftest import point_aws_at

TASK = CancelTask(
    "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01",
    Requester("slack", "U1", workspace="T1"),
    ReplyTarget(url="https://hooks.slack.com/x"),
)


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS pointed at a loopback port where nothing listens."""
    url = f"http://127.0.0.1:{free_port()}"
    point_aws_at(monkeypatch, url, AWS_MAX_ATTEMPTS="1")
    return url


def test_sqs_unreachable_raises_handoff_failed(nowhere: str):
    with pytest.raises(QueueFailed):
        SqsTaskQueue(f"{nowhere}/000000000000/tasks").send(TASK)


def test_dynamodb_unreachable_fails_open_and_runs_the_action_once(nowhere: str):
    runs: list[int] = []
    result = DynamoDedupe("idempotency").once("key-1", lambda: runs.append(1) or {"outcome": "cancelled"})
    assert result == {"outcome": "cancelled"}
    assert runs == [1]


def runtime(**kwargs) -> Runtime:
    settings = Settings.from_env(
        {
            "OMNI_BASE_URL": "https://acme.omniapp.co/api",
            "OMNI_SECRET_ID": "omni",
            "SLACK_SECRET_ID": "slack",
            "SLACK_ALLOWED_TEAMS": "*",
            "POSTBACK_HOSTS": kwargs.pop("hosts", ""),
        }
    )
    secrets = FakeSecretStore({"omni": {"api_key": "k"}, "slack": {"signing_secrets": ["s"]}})
    return Runtime(settings, secrets, FakeOmni(lambda *a: OmniReply(503, {})), **kwargs)


def test_a_failed_hand_off_promises_nothing():
    assert runtime(queue=MemoryQueue(fail="EndpointConnectionError")).handoff.send(TASK) is False


@pytest.mark.parametrize("status", [404, 500])
def test_a_response_url_that_fails_is_logged_not_raised(status: int):
    capture = CaptureServer(status=status).start()
    try:
        rt = runtime(hosts=capture.host)
        rt.notifier.post(capture.url("/gone"), {"text": "done"})  # no exception: the cancel itself is done
        assert len(capture.posts) >= 1
    finally:
        capture.stop()
