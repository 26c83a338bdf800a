"""The local stack, derived from template.yaml: no AWS account, no Docker.

- Parameters: local/parameters.toml, then PARAMS="Name=value …" (as `sam deploy --parameter-overrides`),
  checked against the template's AllowedValues/AllowedPattern/Min/Max as CloudFormation checks them.
- AWS: moto server, with every resource the template declares created with its properties (secrets,
  queues with their redrive policy, the table with its key and TTL); their names and ARNs reach the
  functions through the template's own Ref/GetAtt. In front of moto an IAM gate holds each function
  to the policy the template gives it (local/cloud/iam_gate.py).
- Functions: each from the `sam build` output in its own processes under the Lambda Runtime
  Interface Emulator (local/cloud/lambda_runtime.py), with exactly the environment SAM CLI resolves for it
  from the template; only AWS_ENDPOINT_URL and SLACK_API_URL (declared by the template for this) and
  the function's credentials come from the stack, as an env file and a profile would for `sam local`.
- HTTP: the template's HttpApi routes (local/cloud/gateway.py); SQS: its event sources (local/cloud/event_source.py).
- Omni: the emulator (local/standins/omni_emulator.py), unless OMNI_BASE_URL points at a real one; post-backs,
  comments and callbacks go to a capture server; Slack's Web API (users.info, usergroups.users.list,
  for owner-or-on-call) to a stand-in (local/standins/slack_web_api.py).

`python -m local.cloud.stack` (`make local`) serves until Ctrl-C. Environment:
  PARAMS                 template parameter overrides, e.g. "SlackAllowedTeams=T0123 PostbackHosts=jira.example.com"
  POSTBACK_HOSTS         extra post-back hosts, added to the capture server's (as 127.0.0.1 and as
                         host.docker.internal, the name sam local containers give it)
  SLACK_SIGNING_SECRET   the Slack signing secret put in the Slack secret (default: the dev secret)
  OMNI_API_KEY           the org key put in the Omni secret (default: omni-local-org-key)
  OMNI_BASE_URL          a real Omni to call instead of the emulator
  <SOURCE>_WEBHOOK_SECRET  each webhook source's secret (default: local dev secrets)
  HOST                   where everything listens (default 127.0.0.1, which `sam local` containers on the
                         host's network reach; 0.0.0.0 for containers on a bridge network)
  PORT, MOTO_PORT, OMNI_EMULATOR_PORT, CAPTURE_PORT, SLACK_API_PORT
                         the relay's (3000), moto's (5005), the emulator's (8099), the capture server's
                         (8098) and the Slack Web API stand-in's (8097) ports, fixed so that
                         events/env.json can point `sam local` at them
  VERBOSE=1              also print the functions' JSON logs (always in the log file it names)
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cloud.build import ROOT, ensure_build, ensure_runtime_client, python312
from local.cloud.gateway import Gateway
from local.cloud.lambda_runtime import FunctionPool, Instance, free_port, function_environment
from local.cloud.sam_template import ACCOUNT, REGION, FunctionSpec, SamTemplate
from local.standins.capture import CaptureServer
from local.standins.omni_emulator import OmniEmulator
from local.standins.slack_web_api import BOT_TOKEN as SLACK_BOT_TOKEN
from local.standins.slack_web_api import SlackWebApi
from tools.signers.slack import DEV_SIGNING_SECRET
from tools.signers.webhooks import SOURCES, dev_secret, secret_entry

DEV_OMNI_KEY = "omni-local-org-key"
CALLBACK_SECRET = "whsec_bG9jYWwtZGV2LWNhbGxiYWNrLXNpZ25pbmcta2V5IQ=="  # local dev only
PARAMETERS_FILE = ROOT / "local" / "parameters.toml"
LOG_DIR = ROOT / ".aws-sam" / "local-logs"
ADMIN_KEY = "local-stack-admin"  # the stack's own calls to moto (seeding, tests): not a function's
SECRETS_EXTENSION_LAYER = ":layer:AWS-Parameters-and-Secrets-Lambda-Extension"  # and its -Arm64 twin


class PortInUse(Exception):
    """A port the stack must listen on is taken: the message names it and the variable that moves it."""


# The fixed ports `make local` listens on, and the variable that moves each.
PORT_VARIABLES = (
    ("port", "PORT"),
    ("moto_port", "MOTO_PORT"),
    ("omni_port", "OMNI_EMULATOR_PORT"),
    ("capture_port", "CAPTURE_PORT"),
    ("slack_api_port", "SLACK_API_PORT"),
)


def check_ports(config: StackConfig) -> None:
    """Every fixed port free, before anything starts (moto's server would wait forever on a taken one)."""
    for attribute, variable in PORT_VARIABLES:
        port = int(getattr(config, attribute))
        if attribute == "omni_port" and config.omni_base_url:
            continue  # no emulator then
        if not port:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((config.host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise PortInUse(
                    f"port {port} ({variable}) on {config.host} is in use (another make local?): stop it, "
                    f"or run with {variable}=<a free port>"
                ) from None


def parse_overrides(text: str) -> dict[str, str]:
    """`Name=value Name2="a value"`, as `sam deploy --parameter-overrides` takes them."""
    pairs = {}
    for item in shlex.split(text or ""):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"parameter overrides are Name=value pairs, got {item!r}")
        pairs[name.removeprefix("ParameterKey=")] = value
    return pairs


def file_parameters(path: Path = PARAMETERS_FILE) -> dict[str, str]:
    with path.open("rb") as handle:
        return {name: str(value) for name, value in tomllib.load(handle).items()}


@dataclass
class StackConfig:
    template: Path = ROOT / "template.yaml"
    params: dict[str, str] = field(default_factory=dict)  # on top of local/parameters.toml
    postback_hosts: str = ""  # added to the capture server's host
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    moto_port: int = 0
    omni_port: int = 0
    capture_port: int = 0
    slack_api_port: int = 0
    slack_signing_secrets: list[str] = field(default_factory=lambda: [DEV_SIGNING_SECRET])
    omni_api_key: str = DEV_OMNI_KEY
    omni_base_url: str | None = None
    user_tokens: dict[str, str] = field(default_factory=dict)
    webhook_secrets: dict[str, str] = field(default_factory=lambda: {s: dev_secret(s) for s in SOURCES})
    # The name sam local containers give this machine (events/env.json): its capture server there is
    # a post-back host too, for what a sam local function queued for this stack's worker.
    container_host: str = ""
    omni_speed: float = 1.0
    worker: bool = True  # run the template's SQS event sources
    max_instances: int = 4  # execution environments per function at most
    verbose: bool = False  # print the functions' JSON logs too
    # As Lambda's LoggingConfig ApplicationLogLevel does (it sets AWS_LAMBDA_LOG_LEVEL, and the runtime then
    # sets the root logger, every library's, to that level); empty: the runtime's default, as the template deploys.
    application_log_level: str = ""
    echo: Callable[[str], None] | None = None  # where human lines go (None: nowhere)

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            params=parse_overrides(os.environ.get("PARAMS", "")),
            postback_hosts=os.environ.get("POSTBACK_HOSTS", ""),
            host=os.environ.get("HOST") or "127.0.0.1",
            port=int(os.environ.get("PORT") or 3000),
            # Fixed ports, so events/env.json can point `sam local` at them.
            moto_port=int(os.environ.get("MOTO_PORT") or 5005),
            omni_port=int(os.environ.get("OMNI_EMULATOR_PORT") or 8099),
            capture_port=int(os.environ.get("CAPTURE_PORT") or 8098),
            slack_api_port=int(os.environ.get("SLACK_API_PORT") or 8097),
            slack_signing_secrets=[os.environ.get("SLACK_SIGNING_SECRET") or DEV_SIGNING_SECRET],
            omni_api_key=os.environ.get("OMNI_API_KEY") or DEV_OMNI_KEY,
            omni_base_url=os.environ.get("OMNI_BASE_URL") or None,
            container_host="host.docker.internal",
            verbose=os.environ.get("VERBOSE", "") not in ("", "0"),
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
    value: dict[str, Any] = {name: {**secret_entry(name, s), **api.get(name, {})} for name, s in secrets.items()}
    value["callback"] = {"secrets": [CALLBACK_SECRET]}
    return value


def credentials_for(logical_id: str) -> dict[str, str]:
    """The function's own role credentials (what Lambda puts in its environment)."""
    return {
        "key": f"LOCAL{logical_id.upper()}"[:20],
        "secret": f"local-secret-{logical_id}",
        "sessiontoken": f"local-session-{logical_id}",
        "region": REGION,
    }


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.moto: Any = None
        self.omni: OmniEmulator | None = None
        self.capture: CaptureServer | None = None
        self.slack_api: SlackWebApi | None = None
        self.gate: Any = None
        self.gateway: Gateway | None = None
        self.template: SamTemplate | None = None
        self.functions: dict[str, FunctionSpec] = {}
        self.environments: dict[str, dict[str, str]] = {}  # what each function's processes get
        self.pools: dict[str, FunctionPool] = {}
        self.sources: list[Any] = []
        self.parameters: dict[str, str] = {}
        self.log_path = LOG_DIR / f"stack-{os.getpid()}-{int(time.time() * 1000)}.log"
        self._log_lock = threading.Lock()
        self._log: Any = None
        self.moto_url = ""
        self._servers: list[Any] = []
        self.failures: list[str] = []  # invocations that returned no result (API Gateway's 500)

    # Addresses --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def resource(self, logical_id: str, attribute: str = "Ref") -> str:
        assert self.template is not None
        return str(self.template.resolved[logical_id][attribute])

    @property
    def queue_url(self) -> str:
        return self.resource(self._queue_trigger().queue)

    @property
    def dlq_url(self) -> str:
        assert self.template is not None
        queue = self.template.resolve(self.template.merged["Resources"][self._queue_trigger().queue]["Properties"])
        target = queue["RedrivePolicy"]["deadLetterTargetArn"]
        return next(str(v["Ref"]) for v in self.template.resolved.values() if v.get("Arn") == target)

    def _queue_trigger(self) -> Any:
        assert self.template is not None
        return self.template.queue_triggers()[0]

    def aws(self, service: str) -> Any:
        """A boto3 client for the stack's own use (tests, redrive): straight to moto, unchecked."""
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_KEY,  # noqa: S106 (moto's test credentials)
        )

    def function_logs(self) -> str:
        """Everything the functions printed (their JSON logs), from the log file."""
        with self._log_lock:
            if self._log:
                self._log.flush()
        return self.log_path.read_text() if self.log_path.exists() else ""

    # Lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        check_ports(self.config)
        build_dir = ensure_build()
        runtime_client = ensure_runtime_client()
        python = python312()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for old in sorted(self.log_path.parent.glob("stack-*.log"), key=_mtime)[:-20]:
            old.unlink(missing_ok=True)  # the last 20 stacks' logs are kept
        self._log = self.log_path.open("a", encoding="utf-8")
        try:
            self._start_services()
            self._start_template(build_dir, runtime_client, python)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_services(self) -> None:
        import logging

        import urllib3
        from moto.server import ThreadedMotoServer

        cfg = self.config
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
        moto_port = cfg.moto_port or free_port()
        self.moto = ThreadedMotoServer(ip_address=cfg.host, port=moto_port, verbose=False)
        self.moto.start()
        self._servers.append(self.moto)
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        # moto keeps its state per process, not per server: start from an empty account.
        urllib3.request("POST", f"{self.moto_url}/moto-api/reset", timeout=5)
        if not cfg.omni_base_url:
            self.omni = OmniEmulator(host=cfg.host, port=cfg.omni_port, speed=cfg.omni_speed).start()
            self.omni.add_key(cfg.omni_api_key)
            self._servers.append(self.omni)
        self.capture = CaptureServer(host=cfg.host, port=cfg.capture_port, on_post=self._echo_post).start()
        self._servers.append(self.capture)
        self.slack_api = SlackWebApi(
            host=cfg.host, port=cfg.slack_api_port
        ).start()  # users.info and usergroups.users.list
        self._servers.append(self.slack_api)

    def _start_template(self, build_dir: Path, runtime_client: Path, python: str) -> None:
        from local.cloud.aws_resources import create_all
        from local.cloud.event_source import SqsEventSource
        from local.cloud.iam_gate import IamGate

        cfg = self.config
        assert self.capture is not None
        omni_url = cfg.omni_base_url or (self.omni.base_url if self.omni else "")
        seen_from_containers = f"{cfg.container_host}:{self.capture.port}" if cfg.container_host else ""
        hosts = [
            h
            for h in (cfg.params.get("PostbackHosts", ""), cfg.postback_hosts, self.capture.host, seen_from_containers)
            if h
        ]
        self.parameters = {
            **file_parameters(),
            "OmniBaseUrl": omni_url,
            "CallbackUrl": self.capture.url("/callback"),
            **cfg.params,
            "PostbackHosts": ",".join(hosts),
        }
        template = self.template = SamTemplate(cfg.template, self.parameters)
        create_all(template, self.aws)
        self.functions = template.functions()
        self._seed_secrets()

        policies = template.policies()
        keys = {credentials_for(fid)["key"]: fid for fid in self.functions}
        secrets = self.aws("secretsmanager")

        def secret_arn(secret_id: str) -> str:
            if secret_id.startswith("arn:"):
                return secret_id
            try:
                return str(secrets.describe_secret(SecretId=secret_id)["ARN"])
            except secrets.exceptions.ResourceNotFoundException:
                return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_id}"

        self.gate = IamGate(
            self.moto_url,
            {key: policies[fid] for key, fid in keys.items()},
            keys,
            secret_arn,
            region=REGION,
            account=ACCOUNT,
            on_decision=self._echo_denied,
        ).start()
        self._servers.append(self.gate)

        assert self.slack_api is not None
        lambda_sets = {"AWS_LAMBDA_LOG_LEVEL": cfg.application_log_level} if cfg.application_log_level else {}
        for fid, spec in self.functions.items():
            overrides = {"AWS_ENDPOINT_URL": self.gate.url, "SLACK_API_URL": self.slack_api.url}
            for layer in spec.external_layers:
                if SECRETS_EXTENSION_LAYER in layer:
                    overrides["SECRETS_EXTENSION_PORT"] = str(self._secrets_extension(fid).port)
                else:
                    self._say(f"note: {fid}'s layer {layer} cannot run here and is left out")
            env = {**function_environment(spec, overrides, credentials_for(fid)), **lambda_sets}
            self.environments[fid] = env
            code_dir = build_dir / fid
            layer_dirs = [build_dir / layer / "python" for layer in spec.layers]

            def make(spec: FunctionSpec = spec, env: dict[str, str] = env, code_dir: Path = code_dir,
                     layer_dirs: list[Path] = layer_dirs) -> Instance:  # fmt: skip
                return Instance(
                    spec,
                    env,
                    python=python,
                    code_dir=code_dir,
                    layer_dirs=layer_dirs,
                    runtime_client=runtime_client,
                    log=self._function_line,
                )

            limit = cfg.max_instances
            for trigger in template.queue_triggers():
                if trigger.function == fid:
                    limit = trigger.max_concurrency
            self.pools[fid] = FunctionPool(make, fid, limit)

        self.gateway = Gateway(
            template.routes(),
            lambda fid, event: self.pools[fid].invoke(event),
            host=cfg.host,
            port=cfg.port,
            on_request=self._echo_request,
            on_error=self._function_failed,
        ).start()
        self._servers.append(self.gateway)
        if cfg.worker:
            for trigger in template.queue_triggers():
                creds = credentials_for(trigger.function)
                import boto3

                sqs = boto3.client(
                    "sqs",
                    endpoint_url=self.gate.url,
                    region_name=REGION,
                    aws_access_key_id=creds["key"],
                    aws_secret_access_key=creds["secret"],
                    aws_session_token=creds["sessiontoken"],
                )
                source = SqsEventSource(
                    trigger,
                    self.resource(trigger.queue),
                    self.resource(trigger.queue, "Arn"),
                    self.pools[trigger.function].invoke,
                    sqs,
                    region=REGION,
                    on_batch=self._echo_batch(trigger.function),
                )
                self.sources.append(source.start())

    def _secrets_extension(self, function: str) -> Any:
        """The Parameters and Secrets extension's HTTP interface for `function`, reading with its
        credentials through the IAM gate, as the real extension does inside the function's sandbox.
        Each function gets its own port (each sandbox has its own localhost in Lambda)."""
        from local.cloud.secrets_extension import SecretsExtension

        creds = credentials_for(function)
        extension = SecretsExtension(
            self.gate.url,
            REGION,
            token=creds["sessiontoken"],
            credentials=(creds["key"], creds["secret"]),
        ).start()
        self._servers.append(extension)
        return extension

    def _seed_secrets(self) -> None:
        """Put the values in the secrets the template created, as an operator does after a deploy."""
        cfg = self.config
        assert self.capture is not None
        values = {
            "SLACK_SECRET_ID": {"signing_secrets": cfg.slack_signing_secrets, "bot_token": SLACK_BOT_TOKEN},
            "OMNI_SECRET_ID": {"api_key": cfg.omni_api_key, "user_tokens": cfg.user_tokens},
            "WEBHOOK_SECRET_ID": webhook_secret(cfg.webhook_secrets, self.capture.url("")),
        }
        secrets = self.aws("secretsmanager")
        seeded: set[str] = set()
        for spec in self.functions.values():
            for variable, value in values.items():
                secret_id = spec.variables.get(variable, "")
                if secret_id and secret_id not in seeded:
                    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
                    seeded.add(secret_id)

    def stop(self) -> None:
        for source in self.sources:
            source.stop()
        self.sources = []
        for pool in self.pools.values():
            pool.stop()
        servers, self._servers = self._servers, []  # stopped once; what they recorded stays readable
        for server in reversed(servers):
            server.stop()
        with self._log_lock:
            if self._log:
                self._log.close()
                self._log = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What it shows ----------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        if self.config.echo:
            self.config.echo(line)

    def _function_line(self, function: str, line: str) -> None:
        with self._log_lock:
            if self._log:
                self._log.write(f"{function} {line}\n")
        if self.config.verbose:
            self._say(f"{function:<15} {line}")
            return
        try:
            record = json.loads(line)
        except ValueError:  # a traceback or the emulator's own lines
            if "Traceback" in line or "Error" in line:
                self._say(f"{function:<15} {line}")
            return
        if isinstance(record, dict) and record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            self._say(f"{function:<15} {record.get('level')}: {record.get('message')} {_brief(record)}")
        elif isinstance(record, dict) and record.get("message") in ("cancel answered", "cancel finished"):
            self._say(f"{function:<15} {record['message']}: {_brief(record)}")

    def _function_failed(self, function: str, exc: Exception) -> None:
        self.failures.append(f"{function}: {exc}")
        self._function_line(function, f"invocation failed (API Gateway answers 500): {exc}")
        self._say(f"{function:<15} invocation failed: {exc}")

    def _echo_batch(self, function: str) -> Callable[[int, int], None]:
        def echo(size: int, failed: int) -> None:
            self._say(f"{function:<15} SQS batch of {size}" + (f", {failed} to retry" if failed else ""))

        return echo

    def _echo_request(self, method: str, path: str, status: int, seconds: float) -> None:
        self._say(f"{'HTTP':<15} {method} {path} -> {status} in {seconds * 1000:.0f} ms")

    def _echo_post(self, post: Mapping[str, Any]) -> None:
        self._say(f"{'post-back':<15} {post['method']} {post['path']}")

    def _echo_denied(self, decision: Any) -> None:
        if not decision.allowed:
            self._say(f"{'IAM':<15} AccessDenied: {decision.principal} {decision.action} on {decision.resource}")


def _brief(record: Mapping[str, Any]) -> str:
    keys = ("source", "job_id", "outcome", "detail", "reason", "error")
    return " ".join(f"{k}={record[k]}" for k in keys if record.get(k))


def _mtime(path: Path) -> float:
    """When `path` was last written; 0 when another stack, starting at the same time, has removed it."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def stop_on_signals() -> None:
    """TERM and HUP stop the stack as Ctrl-C does (every process it started, then exit); so does the
    parent going away (make killed by a signal it does not pass on)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def seed_jobs(stack: LocalStack) -> tuple[str, str]:
    """What `make local` starts with on its Omni emulator: a running job to cancel, and the one the
    committed events and `make events` without a stack name (tools/signers/events.py JOB), running too."""
    from tools.signers.events import JOB

    assert stack.omni is not None
    key = stack.config.omni_api_key
    return stack.omni.create_job(key=key, executing_s=600), stack.omni.create_job(key=key, job_id=JOB, executing_s=600)


def main() -> None:
    stop_on_signals()
    config = StackConfig.from_env()
    config.echo = lambda line: print(line, flush=True)
    print("starting the local stack from template.yaml …", flush=True)
    with LocalStack(config) as stack:
        print(f"\nrelay       {stack.url}  routes: {', '.join(r.route_key for r in stack.template.routes())}")  # type: ignore[union-attr]
        for fid, pool in stack.pools.items():
            names = ", ".join(sorted(stack.environments[fid]))
            print(f"{fid:<11} up to {pool.max_instances} processes (RIE + awslambdaric), started on demand")
            print(f"            environment: {names}")
        print(f"worker      SQS event source on {stack.queue_url}")
        print(f"moto server {stack.moto_url}  (IAM-checked for the functions at {stack.gate.url})")
        assert stack.capture is not None
        print(f"post-backs  {stack.capture.url('/')}  (Slack's response_url, comment APIs, the callback)")
        if stack.omni:
            print(f"omni        {stack.omni.base_url}  (emulator; org key from OMNI_API_KEY)")
            job, named = seed_jobs(stack)
            print(f"            a running job to cancel: {job}; and {named}, the one events/*.json name")
        else:
            print(f"omni        {stack.parameters['OmniBaseUrl']}  (from OMNI_BASE_URL)")
        print(f"parameters  {' '.join(f'{k}={v}' for k, v in sorted(stack.parameters.items()) if v)}")
        print(f"logs        {stack.log_path}  (the functions' JSON logs; VERBOSE=1 prints them here)")
        secret = config.slack_signing_secrets[0]
        default = " (the dev default)" if secret == DEV_SIGNING_SECRET else ""
        print(f"\nSlack signing secret{default}: SLACK_SIGNING_SECRET. Another job to cancel: make job")
        print("Send a signed slash command with:")
        print(f"  .venv/bin/python -m tools.send --url {stack.url} <job id>")
        print(f"and a signed webhook ({', '.join(SOURCES)}) with:")
        print(f"  .venv/bin/python -m tools.send --url {stack.url} --webhook github <job id>")
        print("Ctrl-C stops everything.\n", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # a signal while starting: what had started is stopped already
        sys.exit(130)
    except Exception as exc:  # a clear line, not a traceback, for what a user can fix
        from local.cloud.build import BuildError
        from local.cloud.sam_template import TemplateError

        if isinstance(exc, BuildError | TemplateError | ValueError | PortInUse):
            sys.exit(f"error: {exc}")
        raise
