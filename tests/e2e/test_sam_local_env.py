"""`sam local invoke --env-vars events/env.json` (Docker) gives each function a configuration that
works: resolved here with SAM CLI's own code from template.yaml plus events/env.json, with the
credentials the README's command line gives and the host's own credentials present, as on a
developer's machine. Docker is not needed to check it: the environment SAM CLI would hand the
container is run under the Lambda Runtime Interface Emulator against the local stack, with the
container's view of the host (host.docker.internal) mapped to this machine."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3

from local.cloud.build import ROOT, ensure_build, ensure_runtime_client, python312
from local.cloud.lambda_runtime import Instance
from local.cloud.stack import LocalStack, StackConfig, seed_jobs
from omni_relay.settings import Settings
from tools.signers.events import JOB, resign, slack_event
from tools.signers.slack import DEV_SIGNING_SECRET

HOST_KEY = "AKIAHOSTSREALKEY0001"  # the developer's own credentials, in their shared credentials file
FIXED_PORTS = {"moto": 5005, "omni": 8099, "capture": 8098}  # StackConfig.from_env's defaults (make local)


@pytest.fixture
def sam_local_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, dict[str, str]]:
    """What `sam local invoke <Function> --env-vars events/env.json` resolves, run as the README says:
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing sam local invoke …"""
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    credentials = tmp_path / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {HOST_KEY}\naws_secret_access_key = host-secret\n")
    for name in list(os.environ):
        if name.startswith(("AWS_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
    provider = SamFunctionProvider(stacks)
    runner = LocalLambdaRunner(
        local_runtime=None,  # type: ignore[arg-type]  (only its environment resolution is used)
        function_provider=provider,
        cwd=str(ROOT),
        real_path=str(ROOT),
        env_vars_values=json.loads((ROOT / "events" / "env.json").read_text()),
    )
    return {
        name: runner._make_env_vars(provider.get(name)).resolve()  # type: ignore[arg-type]
        for name in ("RelayFunction", "WorkerFunction")
    }


def test_each_function_is_configured_and_never_holds_the_hosts_credentials(sam_local_env: dict):
    for name, env in sam_local_env.items():
        settings = Settings.from_env(env)  # raises with every problem, as at a cold start
        assert settings.omni_base_url == "http://host.docker.internal:8099/api", name
        assert env["AWS_ENDPOINT_URL"] == "http://host.docker.internal:5005", name
        assert env["AWS_ACCESS_KEY_ID"] == "testing" and HOST_KEY not in json.dumps(env), name
        assert settings.cancel_queue_url.endswith("/omni-cancel-relay-local-TaskQueue"), name
        assert settings.idempotency_table == "omni-cancel-relay-local-IdempotencyTable", name
        assert settings.allowed_senders("github").configured and settings.slack_allowed_teams.configured, name
        # SAM CLI runs no extension layer: secrets come straight from Secrets Manager (moto), not
        # after a failed call to the extension's localhost:2773 at every cold start.
        assert settings.secrets_extension_port is None, name


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    """`make local`'s stack (StackConfig.from_env), on free ports instead of its fixed ones."""
    free = {"port": 0, "moto_port": 0, "omni_port": 0, "capture_port": 0, "slack_api_port": 0}
    with LocalStack(dataclasses.replace(StackConfig.from_env(), **free)) as running:
        yield running


def test_make_locals_worker_posts_back_where_a_sam_local_function_asked(stack: LocalStack):
    """A sam local relay queues its hand-offs and follow-ups on the stack's queue, with Slack's
    response_url on the capture server as the container names it: the stack's worker may post there."""
    assert stack.capture is not None
    hosts = stack.environments["WorkerFunction"]["POSTBACK_HOSTS"].split(",")
    assert f"host.docker.internal:{stack.capture.port}" in hosts, hosts


def test_make_local_has_the_job_the_committed_events_name(stack: LocalStack):
    assert stack.omni is not None
    seed_jobs(stack)
    event = resign(
        json.loads((ROOT / "events" / "slack_command_cancel.json").read_text()), DEV_SIGNING_SECRET, int(time.time())
    )
    reply = urllib3.request(
        "POST",
        f"{stack.url}/slack/commands",
        headers=event["headers"],
        body=base64.b64decode(event["body"]),
        timeout=15,
    )
    assert reply.status == 200 and "No job" not in reply.data.decode(), reply.data[:300]
    assert "Cancel" in reply.data.decode() and stack.omni.job_state(JOB) in ("CANCELLED", "EXECUTING", "QUEUED")


def test_the_relay_in_that_environment_reaches_what_the_local_stack_created(sam_local_env: dict, stack: LocalStack):
    assert stack.omni is not None and stack.capture is not None
    # The names env.json uses are those the stack creates from the template.
    assert stack.resource("TaskQueue").endswith(urlsplit(sam_local_env["RelayFunction"]["CANCEL_QUEUE_URL"]).path)
    assert stack.resource("IdempotencyTable") == sam_local_env["RelayFunction"]["IDEMPOTENCY_TABLE"]
    secret_name = sam_local_env["RelayFunction"]["OMNI_SECRET_ID"]
    assert stack.aws("secretsmanager").describe_secret(SecretId=secret_name)["ARN"] == stack.resource("OmniSecret")

    # host.docker.internal is this machine as a container sees it; here the stack's ports are random.
    ports = {
        f"host.docker.internal:{FIXED_PORTS['moto']}": stack.moto_url.removeprefix("http://"),
        f"host.docker.internal:{FIXED_PORTS['omni']}": urlsplit(stack.omni.base_url).netloc,
        f"host.docker.internal:{FIXED_PORTS['capture']}": stack.capture.host,
    }
    env = {}
    for key, value in sam_local_env["RelayFunction"].items():
        for container_view, here in ports.items():
            value = value.replace(container_view, here)
        env[key] = value
    build = ensure_build()
    relay = Instance(
        stack.functions["RelayFunction"],
        env,
        python=python312(),
        code_dir=build / "RelayFunction",
        layer_dirs=[build / "CoreLayer" / "python"],
        runtime_client=ensure_runtime_client(),
        log=lambda function, line: None,
    )
    try:
        job = stack.omni.create_job(key=stack.config.omni_api_key, pinned="QUEUED")
        reply = relay.invoke(slack_event("/slack/commands", job))
    finally:
        relay.stop()
    assert reply["statusCode"] == 200 and "Cancelled Omni AI job" in reply["body"], reply
    assert stack.omni.job_state(job) == "CANCELLED"
