"""The local stack: moto server (Secrets Manager), the Omni emulator, and the relay behind the
HTTP -> Lambda gateway, all on 127.0.0.1. No AWS account, no Docker.

`python -m local.stack` (`make local`) serves until stopped. Environment:
  SLACK_SIGNING_SECRET  Slack signing secret to accept (default: the documented dev secret)
  OMNI_API_KEY          Omni org API key the relay uses (default: omni-local-org-key)
  OMNI_BASE_URL         a real Omni to call instead of the emulator (then no emulator starts)
  PORT                  the relay's port (default 3000)
  <SOURCE>_WEBHOOK_SECRET  each webhook source's secret (GITHUB_, JIRA_, ZENDESK_, PAGERDUTY_, LINEAR_,
                        TEAMS_, STANDARD_, SHARED_WEBHOOK_SECRET; default: local dev secrets)
Locally every webhook sender is allowed (<SOURCE>_ALLOWED=*), comments and the signed callback go
to the capture server; a deployed relay allows no one until configured.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT / "layers" / "core", ROOT / "functions" / "relay", ROOT / "functions" / "worker"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local.capture import CaptureServer  # noqa: E402
from local.gateway import Gateway  # noqa: E402
from local.omni_emulator import OmniEmulator  # noqa: E402
from local.slack_signer import DEV_SIGNING_SECRET  # noqa: E402
from local.webhook_signer import SOURCES, dev_secret  # noqa: E402

DEV_OMNI_KEY = "omni-local-org-key"
SLACK_SECRET_NAME = "omni-cancel-relay/slack"
OMNI_SECRET_NAME = "omni-cancel-relay/omni"
WEBHOOK_SECRET_NAME = "omni-cancel-relay/webhooks"
CALLBACK_SECRET = "whsec_bG9jYWwtZGV2LWNhbGxiYWNrLXNpZ25pbmcta2V5IQ=="  # local dev only
QUEUE_NAME = "omni-cancel-relay-tasks"
DLQ_NAME = "omni-cancel-relay-tasks-dlq"
TABLE_NAME = "omni-cancel-relay-idempotency"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StackConfig:
    port: int = 0
    moto_port: int = 0  # 0: any free port
    omni_port: int = 0
    slack_signing_secrets: list[str] = field(default_factory=lambda: [DEV_SIGNING_SECRET])
    omni_api_key: str = DEV_OMNI_KEY
    omni_base_url: str | None = None
    user_tokens: dict[str, str] = field(default_factory=dict)
    allowed_teams: str = "*"  # local only: allow every Slack user
    allowed_users: str = "*"
    allowed_channels: str = "*"
    omni_speed: float = 1.0
    queue_visibility_s: int = 30  # as template.yaml sets it relative to the worker's timeout
    max_receives: int = 5
    worker: bool = True  # poll the queue with the worker, as the SQS event source would
    webhook_secrets: dict[str, str] = field(default_factory=lambda: {s: dev_secret(s) for s in SOURCES})
    webhook_allowed: str = "*"  # local only: every webhook sender may cancel
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            port=int(os.environ.get("PORT") or 3000),
            # Fixed ports, so events/env.json can point `sam local invoke` at them.
            moto_port=int(os.environ.get("MOTO_PORT") or 5005),
            omni_port=int(os.environ.get("OMNI_EMULATOR_PORT") or 8099),
            slack_signing_secrets=[os.environ.get("SLACK_SIGNING_SECRET") or DEV_SIGNING_SECRET],
            omni_api_key=os.environ.get("OMNI_API_KEY") or DEV_OMNI_KEY,
            omni_base_url=os.environ.get("OMNI_BASE_URL") or None,
        )


def create_queues(endpoint: str, visibility_s: int, max_receives: int) -> tuple[str, str]:
    """The task queue and its DLQ, as template.yaml defines them; returns (queue URL, DLQ URL)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME, Attributes={"VisibilityTimeout": str(visibility_s), "RedrivePolicy": redrive}
    )["QueueUrl"]
    return queue_url, dlq_url


def create_table(endpoint: str, name: str) -> None:
    """The idempotency table, as template.yaml defines it (key `id`, TTL on `expiration`)."""
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"AttributeName": "expiration", "Enabled": True}
    )


def webhook_secret(secrets: dict[str, str], api_base: str) -> dict[str, Any]:
    """The webhooks secret as production holds it; every comment API points at the capture server."""
    api = {
        "github": {"api_token": "ghp_local", "api_url": f"{api_base}/github"},
        "jira": {"site_url": f"{api_base}/jira", "email": "relay@acme.example", "api_token": "jira-local"},
        "zendesk": {"site_url": f"{api_base}/zendesk", "email": "relay@acme.example", "api_token": "zd-local"},
        "pagerduty": {"api_token": "pd-local", "email": "relay@acme.example", "api_url": f"{api_base}/pagerduty"},
        "linear": {"api_token": "lin_api_local", "api_url": f"{api_base}/linear/graphql"},
    }
    value: dict[str, Any] = {name: {"secrets": [secret], **api.get(name, {})} for name, secret in secrets.items()}
    value["callback"] = {"secrets": [CALLBACK_SECRET]}
    return value


def seed_secrets(
    endpoint: str, slack: dict[str, Any], omni: dict[str, Any], webhooks: dict[str, Any] | None = None
) -> dict[str, str]:
    """Create (or update) the secrets in the same shape as production; returns their ARNs."""
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    arns = {}
    for name, value in ((SLACK_SECRET_NAME, slack), (OMNI_SECRET_NAME, omni), (WEBHOOK_SECRET_NAME, webhooks or {})):
        try:
            arns[name] = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        except client.exceptions.ResourceExistsException:
            arns[name] = client.put_secret_value(SecretId=name, SecretString=json.dumps(value))["ARN"]
    return arns


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.moto: Any = None
        self.omni: OmniEmulator | None = None
        self.gateway: Gateway | None = None
        self.capture: CaptureServer | None = None
        self.poller: Any = None
        self.queue_url = self.dlq_url = ""
        self.env: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def start(self) -> LocalStack:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
        cfg = self.config
        moto_port = cfg.moto_port or free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self.moto.start()
        moto_url = f"http://127.0.0.1:{moto_port}"
        # moto keeps its state per process, not per server: start from an empty account.
        import urllib3

        urllib3.request("POST", f"{moto_url}/moto-api/reset", timeout=5)

        omni_url = cfg.omni_base_url
        if not omni_url:
            self.omni = OmniEmulator(port=cfg.omni_port, speed=cfg.omni_speed).start()
            self.omni.add_key(cfg.omni_api_key)
            omni_url = self.omni.base_url
        self.capture = CaptureServer().start()

        self.env = {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "OMNI_BASE_URL": omni_url,
            "OMNI_SECRET_ID": OMNI_SECRET_NAME,
            "SLACK_SECRET_ID": SLACK_SECRET_NAME,
            "SLACK_ALLOWED_TEAMS": cfg.allowed_teams,
            "SLACK_ALLOWED_USERS": cfg.allowed_users,
            "SLACK_ALLOWED_CHANNELS": cfg.allowed_channels,
            "POWERTOOLS_SERVICE_NAME": "omni-cancel-relay",
            "POWERTOOLS_METRICS_NAMESPACE": "OmniCancelRelay",
            "POWERTOOLS_TRACE_DISABLED": "true",
            # Local only: post-backs may go to the capture server over plain http on 127.0.0.1.
            "POSTBACK_HOSTS": self.capture.host,
            "MAX_RECEIVES": str(cfg.max_receives),
            "IDEMPOTENCY_TABLE": TABLE_NAME,
            "WEBHOOK_SECRET_ID": WEBHOOK_SECRET_NAME,
            "CALLBACK_URL": self.capture.url("/callback"),
            **{f"{name.upper()}_ALLOWED": cfg.webhook_allowed for name in cfg.webhook_secrets},
            **cfg.env,
        }
        for key, value in self.env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        seed_secrets(
            moto_url,
            {"signing_secrets": cfg.slack_signing_secrets},
            {"api_key": cfg.omni_api_key, "user_tokens": cfg.user_tokens},
            webhook_secret(cfg.webhook_secrets, self.capture.url("")),
        )

        create_table(moto_url, TABLE_NAME)
        self.queue_url, self.dlq_url = create_queues(moto_url, cfg.queue_visibility_s, cfg.max_receives)
        self._saved_env.setdefault("CANCEL_QUEUE_URL", os.environ.get("CANCEL_QUEUE_URL"))
        os.environ["CANCEL_QUEUE_URL"] = self.env["CANCEL_QUEUE_URL"] = self.queue_url

        import relay_app
        import worker_app
        from omni_relay import wiring

        wiring.use(None)  # built from this environment on the first request
        _reset_powertools_parameters()  # nor may a client cached by an earlier stack in this process be reused
        self.gateway = Gateway(relay_app.lambda_handler, port=cfg.port).start()
        if cfg.worker:
            from local.worker_poller import QueuePoller

            self.poller = QueuePoller(worker_app.lambda_handler, self.queue_url).start()
        return self

    def stop(self) -> None:
        from omni_relay import wiring

        if self.poller:
            self.poller.stop()
        wiring.use(None)
        if self.gateway:
            self.gateway.stop()
        if self.capture:
            self.capture.stop()
        if self.omni:
            self.omni.stop()
        if self.moto:
            self.moto.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_powertools_parameters()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reset_powertools_parameters() -> None:
    """Powertools keeps one default Secrets Manager client and cache per process: drop them so the
    next stack (another moto port) starts clean, as a new execution environment would."""
    try:
        from aws_lambda_powertools.utilities.parameters import constants as parameters_constants
    except ImportError:
        return
    parameters_constants.DEFAULT_PROVIDERS.clear()


def main() -> None:
    config = StackConfig.from_env()
    with LocalStack(config) as stack:
        secret = config.slack_signing_secrets[0]
        print(f"relay       {stack.url}  (POST /slack/commands, /slack/interactions, /webhooks/<source>)")
        print(f"worker      polling {stack.queue_url}")
        assert stack.capture is not None
        print(f"post-backs  {stack.capture.url('/')}  (stands in for Slack's response_url)")
        print(
            f"moto server {stack.env['AWS_ENDPOINT_URL']}  (Secrets Manager: {SLACK_SECRET_NAME}, {OMNI_SECRET_NAME})"
        )
        if stack.omni:
            print(f"omni        {stack.omni.base_url}  (emulator; org key from OMNI_API_KEY)")
            job = stack.omni.create_job(key=config.omni_api_key, executing_s=600)
            print(f"            a running job to cancel: {job}")
        else:
            print(f"omni        {stack.env['OMNI_BASE_URL']}  (from OMNI_BASE_URL)")
        default = " (the dev default)" if secret == DEV_SIGNING_SECRET else ""
        print(f"\nSlack signing secret{default}: SLACK_SIGNING_SECRET. Send a signed slash command with:")
        print(f"  .venv/bin/python -m local.send --url {stack.url} <job id>")
        print(f"and a signed webhook ({', '.join(SOURCES)}) with:")
        print(f"  .venv/bin/python -m local.send --url {stack.url} --webhook github <job id>")
        print("Ctrl-C stops everything.", flush=True)
        try:
            import threading

            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping")


if __name__ == "__main__":
    main()
