"""Secrets from Secrets Manager in moto server, over HTTP, through Powertools and the extension path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.cloud.lambda_runtime import free_port
from omni_relay.adapters.secret_store import ExtensionSecretStore, PowertoolsSecretStore
from omni_relay.errors import SecretsUnavailable
from tests.integration.conftest import point_aws_at, reset_powertools_parameters


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    point_aws_at(monkeypatch, url)
    yield url
    reset_powertools_parameters()
    server.stop()


def put(url: str, name: str, value: str) -> None:
    client = boto3.client("secretsmanager", endpoint_url=url, region_name="us-east-1")
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def test_reads_a_json_secret_and_caches_it(moto: str):
    put(moto, "omni", json.dumps({"api_key": "k1"}))
    store = PowertoolsSecretStore(max_age=300)
    assert store.get_json("omni") == {"api_key": "k1"}
    put(moto, "omni", json.dumps({"api_key": "k2"}))
    assert store.get_json("omni") == {"api_key": "k1"}  # cached
    assert store.get_json("omni", force=True) == {"api_key": "k2"}  # rotation re-read


def test_a_missing_secret_names_the_id_only(moto: str):
    with pytest.raises(SecretsUnavailable, match="could not read secret nope"):
        PowertoolsSecretStore().get_json("nope")


@pytest.mark.parametrize("value", ["not json", "[1, 2]"])
def test_a_malformed_secret_is_reported_without_its_value(moto: str, value: str):
    put(moto, "bad", value)
    with pytest.raises(SecretsUnavailable) as error:
        PowertoolsSecretStore().get_json("bad")
    assert value not in str(error.value)


def test_secrets_manager_unreachable(monkeypatch: pytest.MonkeyPatch):
    point_aws_at(monkeypatch, f"http://127.0.0.1:{free_port()}", AWS_MAX_ATTEMPTS="1")
    try:
        with pytest.raises(SecretsUnavailable):
            PowertoolsSecretStore().get_json("omni")
    finally:
        reset_powertools_parameters()


class _Extension(BaseHTTPRequestHandler):
    """The Parameters and Secrets Lambda Extension's HTTP contract, serving one secret."""

    secrets: dict[str, str] = {}
    tokens: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:  # noqa: N802
        from urllib.parse import parse_qs, urlsplit

        self.tokens.append(self.headers.get("X-Aws-Parameters-Secrets-Token", ""))
        secret_id = parse_qs(urlsplit(self.path).query).get("secretId", [""])[0]
        if secret_id not in self.secrets:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"Name": secret_id, "SecretString": self.secrets[secret_id]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_extension_serves_secrets_and_unknown_ones_fall_back(moto: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    _Extension.secrets = {"slack": json.dumps({"signing_secrets": ["s"]})}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Extension)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    put(moto, "omni", json.dumps({"api_key": "from-secrets-manager"}))
    try:
        store = ExtensionSecretStore(server.server_address[1], PowertoolsSecretStore())
        assert store.get_json("slack") == {"signing_secrets": ["s"]}
        assert _Extension.tokens[-1] == "session-token"
        assert store.get_json("omni") == {"api_key": "from-secrets-manager"}
    finally:
        server.shutdown()
