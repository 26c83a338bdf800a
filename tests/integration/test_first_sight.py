"""The replay check's conditional write, against DynamoDB's API (moto server on loopback): signed with
SigV4 without boto3, the first writer of a key wins in every environment, a key past its TTL can be
claimed again, and a store that cannot answer fails open."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
import urllib3
from moto.server import ThreadedMotoServer

from omni_relay.adapters.dedupe import DynamoDedupe
from tests.integration.conftest import point_aws_at

TABLE = "first-sight"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    urllib3.request("POST", f"{url}/moto-api/reset", timeout=5)  # moto keeps one state per process
    point_aws_at(monkeypatch, url, AWS_REGION="us-east-1", AWS_SESSION_TOKEN="session")
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield url
    urllib3.request("POST", f"{url}/moto-api/reset", timeout=5)  # the next test's moto starts empty
    server.stop()


def test_the_first_environment_to_see_a_key_wins_and_every_other_is_told(moto: str):
    environments = [DynamoDedupe(TABLE) for _ in range(3)]
    assert [e.first_sight("slack-signature:v0=abc", 660) for e in environments] == [True, False, False]
    assert environments[0].first_sight("slack-signature:v0=abc", 660) is False  # and again in the same one
    item = boto3.client("dynamodb", endpoint_url=moto).get_item(
        TableName=TABLE, Key={"id": {"S": "slack-signature:v0=abc"}}
    )["Item"]
    assert set(item) == {"id", "expiration"}  # the key and its TTL: nothing of the request


def test_a_key_past_its_ttl_is_seen_first_again(moto: str):
    now = [1_800_000_000.0]
    first, later = DynamoDedupe(TABLE, clock=lambda: now[0]), DynamoDedupe(TABLE, clock=lambda: now[0])
    assert first.first_sight("k", 60) is True
    now[0] += 61  # DynamoDB's TTL removes items lazily: the condition treats an expired one as gone
    assert later.first_sight("k", 60) is True


def test_a_store_that_cannot_answer_fails_open_but_this_environment_remembers(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    point_aws_at(monkeypatch, f"http://127.0.0.1:{closed}", AWS_REGION="us-east-1")
    dedupe = DynamoDedupe(TABLE)
    assert dedupe.first_sight("k", 660) is True  # acted on (counted as DedupeUnavailable)
    assert dedupe.first_sight("k", 660) is False  # a copy to this same environment is still refused
