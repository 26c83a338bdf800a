"""`make deploy`, `make configure` and `make slack-app` against local stand-ins: moto server for AWS
(STS, CloudFormation's stacks, parameters and outputs, Secrets Manager) and the Slack Web API
stand-in (apps.manifest.create/update), with the region from an AWS profile.

`sam deploy` itself is stood in by `SamStandIn`: moto 5.2.5's CloudFormation cannot take it (SAM's
managed-bucket stack comes back without Outputs, so SAM refuses it; with a bucket given, CreateChangeSet
answers NoSuchBucket for the uploaded template; and moto has no AWS::Serverless transform nor
AWS::SecretsManager::Secret). The stand-in does what CloudFormation does with the command line it is
given: checks each value against template.yaml, keeps the previous value of every parameter not given
(SAM's UsePreviousValue), creates the secrets the template creates, and records the stack's
parameters and outputs in moto, where the tools read them back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cloud.lambda_runtime import free_port
from local.cloud.sam_template import check_parameters
from local.standins.slack_web_api import CONFIG_TOKEN, SlackWebApi
from tools import deploy, slack_app

ROOT = Path(__file__).resolve().parents[2]
PROFILE_REGION = "eu-west-1"


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto server on 127.0.0.1, reached through AWS_ENDPOINT_URL; the region only in an AWS profile."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import urllib3

    urllib3.request("POST", f"{url}/moto-api/reset", timeout=5)
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nregion = {PROFILE_REGION}\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "STACK_NAME", "DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credentials from an instance role either
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("DEPLOY_SETTINGS", str(tmp_path / "deploy.toml"))
    yield url
    server.stop()


class SamStandIn:
    """`sam deploy --stack-name N --region R [--no-confirm-changeset] --parameter-overrides K="v" …`,
    done the way CloudFormation would do it, into moto."""

    def __init__(self, api_id: str = "abc123defg") -> None:
        self.commands: list[list[str]] = []
        self.api_id = api_id
        self.declared = deploy.template_parameters()

    def __call__(self, command: Sequence[str]) -> int:
        self.commands.append(list(command))
        args = list(command)
        name, region = args[args.index("--stack-name") + 1], args[args.index("--region") + 1]
        given = {}
        if "--parameter-overrides" in args:
            for pair in args[args.index("--parameter-overrides") + 1 :]:
                key, _, value = pair.partition("=")
                given[key] = value.strip('"')
        cfn = boto3.client("cloudformation", region_name=region)
        existing = deploy.describe_stack(name, region)
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in (existing or {}).get("Parameters", [])}
        values = check_parameters(self.declared, {**previous, **given})  # UsePreviousValue, then defaults
        outputs = self._outputs(name, region, values, existing)
        body = json.dumps(
            {
                "Description": f"stand-in for sam deploy #{len(self.commands)}",
                "Parameters": {k: {"Type": "String"} for k in values},
                "Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()},
            }
        )
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
        if existing:
            cfn.update_stack(StackName=name, TemplateBody=body, Parameters=parameters, Capabilities=["CAPABILITY_IAM"])
        else:
            cfn.create_stack(StackName=name, TemplateBody=body, Parameters=parameters, Capabilities=["CAPABILITY_IAM"])
        return 0

    def _outputs(self, name: str, region: str, values: dict[str, str], existing: Any) -> dict[str, str]:
        found = deploy.outputs(existing) if existing else {}
        secrets = boto3.client("secretsmanager", region_name=region)
        for logical_id, parameter, initial in (
            ("OmniSecret", "OmniSecretArn", '{"api_key": "", "user_tokens": {}}'),
            ("SlackSecret", "SlackSecretArn", '{"signing_secrets": []}'),
        ):
            if values[parameter]:
                found[parameter] = values[parameter]
            elif parameter not in found:  # created once, kept on updates, as CloudFormation does
                found[parameter] = secrets.create_secret(Name=f"{name}-{logical_id}", SecretString=initial)["ARN"]
        base = f"https://{self.api_id}.execute-api.{region}.amazonaws.com"
        found.update(
            SlackCommandUrl=f"{base}/slack/commands",
            SlackInteractivityUrl=f"{base}/slack/interactions",
            SlackEventsUrl=f"{base}/slack/events",
            # The template's !Select/!Split of OmniBaseUrl: its host.
            SlackUnfurlDomain=values["OmniBaseUrl"].split("/")[2].split(":")[0],
            TaskQueueUrl=f"https://sqs.{region}.amazonaws.com/123456789012/{name}-TaskQueue",
            TaskDeadLetterQueueUrl=f"https://sqs.{region}.amazonaws.com/123456789012/{name}-TaskDeadLetterQueue",
        )
        return found


class Operator:
    """Scripted answers; records every prompt (the question count) and every line printed."""

    def __init__(self, *answers: str, secret: str = "") -> None:
        self.answers = list(answers)
        self.secret = secret
        self.prompts: list[str] = []
        self.lines: list[str] = []

    def ask(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)

    def ask_secret(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.secret

    def say(self, line: str) -> None:
        self.lines.append(line)

    @property
    def transcript(self) -> str:
        return "\n".join(self.lines)


def first_deploy(sam: SamStandIn, operator: Operator) -> int:
    return deploy.deploy(ask=operator.ask, ask_secret=operator.ask_secret, say=operator.say, run=sam)


def stack_parameters(name: str = "omni-cancel-relay", region: str = PROFILE_REGION) -> dict[str, str]:
    stack = deploy.describe_stack(name, region)
    assert stack is not None
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def secret_value(secret_id: str, region: str = PROFILE_REGION) -> dict[str, Any]:
    client = boto3.client("secretsmanager", region_name=region)
    return dict(json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"]))


def test_the_first_deploy_asks_five_questions_saves_the_answers_and_puts_the_key(aws: str):
    sam = SamStandIn()
    operator = Operator("", "acme", "", "ops@acme.example", secret="omni-org-key-from-the-prompt")
    assert first_deploy(sam, operator) == 0

    assert len(operator.prompts) == 5, operator.prompts
    assert f"[{PROFILE_REGION}]" in operator.prompts[0]  # the default is the profile's region
    saved = deploy.Settings.load(deploy.settings_path())
    assert saved is not None
    assert (saved.stack_name, saved.region) == ("omni-cancel-relay", PROFILE_REGION)
    assert saved.parameters == {"OmniBaseUrl": "https://acme.omniapp.co/api", "AlarmEmail": "ops@acme.example"}
    assert "omni-org-key" not in deploy.settings_path().read_text()  # the key is never written to disk

    [command] = sam.commands
    assert command[command.index("--region") + 1] == PROFILE_REGION and "--no-confirm-changeset" in command
    assert 'OmniBaseUrl="https://acme.omniapp.co/api"' in command
    parameters = stack_parameters()
    assert parameters["SlackAllowedTeams"] == "" and parameters["AlarmEmail"] == "ops@acme.example"

    outputs = deploy.outputs(deploy.describe_stack("omni-cancel-relay", PROFILE_REGION) or {})
    assert secret_value(outputs["OmniSecretArn"]) == {"api_key": "omni-org-key-from-the-prompt", "user_tokens": {}}
    said = operator.transcript
    assert "make slack-app" in said and "make configure SlackAllowedTeams=T" in said and "ops@acme.example" in said


def test_a_setting_saved_with_configure_is_still_set_after_the_next_deploys(aws: str):
    sam = SamStandIn()
    assert first_deploy(sam, Operator("", "https://acme.omniapp.co/api", "", "", secret="k")) == 0
    operator = Operator()
    assert deploy.configure(["SlackAllowedTeams=T0123ABCD"], say=operator.say) == 0
    assert "saved SlackAllowedTeams='T0123ABCD'" in operator.transcript

    for _ in range(2):  # the upgrade step, twice: pull, make deploy
        assert deploy.deploy(ask=Operator().ask, say=operator.say, run=sam) == 0
        assert stack_parameters()["SlackAllowedTeams"] == "T0123ABCD"
        assert stack_parameters()["OmniBaseUrl"] == "https://acme.omniapp.co/api"
    assert all("--no-confirm-changeset" not in c for c in sam.commands[1:])  # later deploys show the change set

    # A parameter deploy.toml does not hold keeps the stack's value (never the template's default).
    assert sam([*sam.commands[-1][:6], "--parameter-overrides", 'LogLevel="DEBUG"']) == 0
    assert deploy.deploy(ask=Operator().ask, say=operator.say, run=sam) == 0
    assert stack_parameters()["LogLevel"] == "DEBUG" and stack_parameters()["SlackAllowedTeams"] == "T0123ABCD"


def test_configure_checks_names_and_values_against_the_template(aws: str):
    with pytest.raises(deploy.DeployError, match="no parameter SlackAllowedTeam"):
        deploy.configure(["SlackAllowedTeam=T1"])
    with pytest.raises(deploy.DeployError, match="not one of"):
        deploy.configure(["DeploymentStrategy=Sometimes"])
    with pytest.raises(deploy.DeployError, match="outside"):
        deploy.configure(["WorkerMaxConcurrency=1"])
    assert not deploy.settings_path().exists()


def test_an_existing_stack_without_settings_here_is_adopted_not_asked(aws: str):
    sam = SamStandIn()
    assert first_deploy(sam, Operator("", "acme", "T0123ABCD", "", secret="k")) == 0
    deploy.settings_path().unlink()  # a fresh clone, another machine
    operator = Operator()  # no answers: a question would fail the test
    assert deploy.deploy(ask=operator.ask, ask_secret=operator.ask_secret, say=operator.say, run=sam) == 0
    assert operator.prompts == []
    saved = deploy.Settings.load(deploy.settings_path())
    assert saved is not None and saved.parameters["SlackAllowedTeams"] == "T0123ABCD"
    assert stack_parameters()["SlackAllowedTeams"] == "T0123ABCD"


def test_answers_an_old_guided_deploy_left_in_samconfig_are_imported(aws: str, tmp_path: Path):
    old = tmp_path / "samconfig.toml"
    overrides = 'OmniBaseUrl=\\"https://x.omniapp.co/api\\" SlackAllowedTeams=\\"T9\\"'
    old.write_text(f'[default.deploy.parameters]\nparameter_overrides = "{overrides}"\n')
    assert deploy.from_samconfig(old) == {"OmniBaseUrl": "https://x.omniapp.co/api", "SlackAllowedTeams": "T9"}
    assert deploy.from_samconfig(ROOT / "samconfig.toml") == {}  # the committed one holds no answers


def test_the_region_is_the_profiles_and_an_explicit_one_wins(aws: str, monkeypatch: pytest.MonkeyPatch):
    assert deploy.resolved_region() == PROFILE_REGION
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert deploy.resolved_region() == "ap-southeast-2"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert deploy.resolved_region() == "us-west-2"


def test_make_sets_no_region_and_make_configure_saves_the_profiles(aws: str):
    """The Makefile exports no AWS_DEFAULT_REGION or AWS_REGION: inside make, the profile's region is
    what the tools resolve (make configure saves it with the first setting)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    make = shutil.which("make") or "make"
    database = subprocess.run(  # noqa: S603 (make, from PATH)
        [make, "-pn", "help"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout
    assert not re.search(r"^(export )?AWS_(DEFAULT_)?REGION\b", database, re.MULTILINE)
    done = subprocess.run(  # noqa: S603
        [make, "-s", "configure", "SlackAllowedTeams=T0123ABCD", "AlarmEmail=ops@acme.example"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    saved = deploy.Settings.load(deploy.settings_path())
    assert saved is not None and saved.region == PROFILE_REGION
    assert saved.parameters == {"SlackAllowedTeams": "T0123ABCD", "AlarmEmail": "ops@acme.example"}


def test_without_credentials_deploy_says_so_in_one_line(aws: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(deploy.DeployError, match="no usable AWS credentials"):
        deploy.deploy(ask=Operator().ask, run=SamStandIn())


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackWebApi]:
    with SlackWebApi() as api:
        monkeypatch.setenv("SLACK_API_URL", api.url)
        monkeypatch.setenv("SLACK_CONFIG_TOKEN", CONFIG_TOKEN)
        yield api


def test_slack_app_creates_the_app_stores_its_signing_secret_and_updates_it_after_new_urls(
    aws: str, slack: SlackWebApi
):
    sam = SamStandIn()
    assert first_deploy(sam, Operator("", "acme", "", "", secret="k")) == 0
    outputs = deploy.outputs(deploy.describe_stack("omni-cancel-relay", PROFILE_REGION) or {})
    operator = Operator()
    assert slack_app.slack_app(say=operator.say) == 0

    [app_id] = slack.directory.apps
    app = slack.directory.apps[app_id]
    assert app["manifest"]["features"]["slash_commands"][0]["url"] == outputs["SlackCommandUrl"]
    assert app["manifest"]["settings"]["interactivity"]["request_url"] == outputs["SlackInteractivityUrl"]
    assert app["manifest"]["settings"]["event_subscriptions"] == {
        "request_url": outputs["SlackEventsUrl"],
        "bot_events": ["link_shared"],
    }
    assert app["manifest"]["features"]["unfurl_domains"] == ["acme.omniapp.co"]
    assert app["manifest"]["features"]["shortcuts"][0]["callback_id"] == "omni_cancel_from_message"
    assert {"commands", "links:read", "links:write"} <= set(app["manifest"]["oauth_config"]["scopes"]["bot"])
    assert secret_value(outputs["SlackSecretArn"]) == {"signing_secrets": [app["signing_secret"]]}
    assert "https://slack.com/oauth/v2/authorize?client_id=" in operator.transcript
    saved = deploy.Settings.load(deploy.settings_path())
    assert saved is not None and saved.slack["app_id"] == app_id

    sam.api_id = "newapi9999"  # a redeploy that replaced the API: new URLs
    operator = Operator()
    assert deploy.deploy(ask=Operator().ask, say=operator.say, run=sam) == 0
    assert "the stack's URLs changed" in operator.transcript
    assert slack_app.slack_app(say=operator.say) == 0
    assert list(slack.directory.apps) == [app_id]  # updated in place, not a second app
    assert "newapi9999" in app["manifest"]["features"]["slash_commands"][0]["url"] or "newapi9999" in json.dumps(
        slack.directory.apps[app_id]["manifest"]
    )
    assert [c["method"] for c in slack.directory.calls] == ["apps.manifest.create", "apps.manifest.update"]
    assert secret_value(outputs["SlackSecretArn"]) == {"signing_secrets": [app["signing_secret"]]}


def test_slack_app_with_a_wrong_token_or_before_a_deploy_says_what_to_do(
    aws: str, slack: SlackWebApi, monkeypatch: pytest.MonkeyPatch
):
    with pytest.raises(deploy.DeployError, match="deploy first"):
        slack_app.slack_app()
    assert first_deploy(SamStandIn(), Operator("", "acme", "", "", secret="k")) == 0
    monkeypatch.setenv("SLACK_CONFIG_TOKEN", "xoxe.xoxp-1-expired")
    with pytest.raises(deploy.DeployError, match="refused the app configuration token"):
        slack_app.slack_app()
    assert slack.directory.apps == {}


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_each_tools_predictable_failure_is_one_line(aws: str, monkeypatch: pytest.MonkeyPatch):
    nothing = f"http://127.0.0.1:{free_port()}"
    cases = {
        ("tools.smoke", "--url", nothing): "nothing answers at",
        ("tools.manifest",): "deploy first",
        ("tools.redrive",): "deploy first",
        ("tools.slack_app",): "deploy first",
        ("local.job",): "no Omni emulator answers",
    }
    monkeypatch.setenv("OMNI_EMULATOR_PORT", str(free_port()))
    for args, words in cases.items():
        done = run_tool(*args)
        assert done.returncode == 1 and words in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, (args, done.stderr)
    # make smoke SLACK_SECRET_ID=… without credentials
    monkeypatch.setenv("SLACK_SECRET_ID", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    done = run_tool("tools.smoke", "--url", nothing)
    assert done.returncode == 1 and "could not read the Slack secret" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
