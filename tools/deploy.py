"""`make deploy` and `make configure`: deploy the stack with the operator's own settings, which live
in deploy.toml (git does not track it, so `git pull` never touches it) and are reused by every deploy.

- The first `make deploy` (no deploy.toml, no stack yet) asks five questions: the region (default: your
  AWS configuration's), the Omni instance, the Omni org API key (hidden; never written to disk), who
  may cancel from Slack, and an alarm email. It saves the answers, deploys without SAM's
  per-parameter prompts, puts the Omni key in the Omni secret the stack created, and prints what is
  left to do.
- A stack that already exists but has no deploy.toml here (another clone, another machine): its
  current parameters are saved instead, and nothing is asked.
- Every later `make deploy` sends the saved parameters; anything not saved keeps the value the stack
  already has (SAM's UsePreviousValue), so a deploy never resets a setting.
- `make configure Name=value …` checks each value against template.yaml and saves it; the next
  `make deploy` applies it. `make configure` alone prints what is saved.

Variables: DEPLOY_SETTINGS (where the settings live, default deploy.toml), STACK_NAME (the first
deploy's stack name, default omni-cancel-relay), DRY_RUN=1 (print the sam deploy command instead of
running it). The region is never set by the Makefile: the first deploy's default is what the AWS CLI
resolves (AWS_REGION, AWS_DEFAULT_REGION, your profile), and the answer is saved with the stack.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEFAULT_STACK = "omni-cancel-relay"

Ask = Callable[[str], str]
Say = Callable[[str], None]


class DeployError(Exception):
    """Something the operator can fix, said in one line."""


def settings_path() -> Path:
    return Path(os.environ.get("DEPLOY_SETTINGS") or ROOT / "deploy.toml")


# Settings ---------------------------------------------------------------------------------------


@dataclass
class Settings:
    stack_name: str
    region: str
    parameters: dict[str, str] = field(default_factory=dict)
    slack: dict[str, str] = field(default_factory=dict)  # app_id and the URLs it was given

    @classmethod
    def load(cls, path: Path) -> Settings | None:
        if not path.exists():
            return None
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DeployError(f"{path.name} is not valid TOML ({exc}): fix or delete it") from None
        stack = data.get("stack", {})
        return cls(
            stack_name=str(stack.get("name") or DEFAULT_STACK),
            region=str(stack.get("region") or ""),
            parameters={k: str(v) for k, v in data.get("parameters", {}).items()},
            slack={k: str(v) for k, v in data.get("slack", {}).items()},
        )

    def save(self, path: Path) -> None:
        lines = [
            "# omni-cancel-relay: this deployment's settings, written by `make deploy` (the first time) and",
            "# `make configure Name=value`, read by every `make deploy`. Not tracked by git. A parameter not",
            "# listed keeps the value the stack has (template.yaml's default on the first deploy).",
            "",
            "[stack]",
            f"name = {_toml(self.stack_name)}",
            f"region = {_toml(self.region)}",
            "",
            "[parameters]",
            *(f"{name} = {_toml(value)}" for name, value in sorted(self.parameters.items())),
        ]
        if self.slack:
            lines += ["", "[slack]", *(f"{k} = {_toml(v)}" for k, v in sorted(self.slack.items()))]
        path.write_text("\n".join(lines) + "\n")


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


def template_parameters(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    from samcli.yamlhelper import yaml_parse

    return dict(yaml_parse(template.read_text()).get("Parameters", {}))


def check(values: Mapping[str, str], declared: Mapping[str, dict[str, Any]]) -> None:
    """Each value as CloudFormation would check it (the local stack's own checker)."""
    from local.cloud.sam_template import TemplateError, check_parameters

    for name, value in values.items():
        if '"' in value:
            raise DeployError(f"{name}: a value cannot hold a double quote")
    try:
        check_parameters({name: declared[name] for name in values}, values)
    except TemplateError as exc:
        raise DeployError(str(exc)) from None


# AWS --------------------------------------------------------------------------------------------


def resolved_region() -> str:
    """The region the AWS CLI would use: AWS_REGION, AWS_DEFAULT_REGION, then the profile's."""
    import boto3

    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or ""


def client(service: str, region: str) -> Any:
    import boto3

    # A new session each time: credentials and configuration as they are now (boto3's default session
    # keeps what it first found).
    return boto3.session.Session().client(service, region_name=region)  # type: ignore[call-overload]


def who_am_i(region: str) -> str:
    import botocore.exceptions

    try:
        return str(client("sts", region).get_caller_identity()["Account"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise DeployError(
            f"no usable AWS credentials ({type(exc).__name__}): run 'aws configure' or 'aws sso login', "
            "or set AWS_PROFILE; 'aws sts get-caller-identity' must succeed"
        ) from None


def describe_stack(name: str, region: str) -> dict[str, Any] | None:
    import botocore.exceptions

    try:
        [stack] = client("cloudformation", region).describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise DeployError(f"could not read stack {name} in {region}: {exc}") from None
    if str(stack.get("StackStatus")) == "REVIEW_IN_PROGRESS":
        return None  # a change set that never ran: CloudFormation creates the stack afresh
    return dict(stack)


def outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def merge_secret(secret_id: str, region: str, change: Mapping[str, Any]) -> None:
    """Put `change` into the JSON secret, keeping what else it holds."""
    secrets = client("secretsmanager", region)
    try:
        current = json.loads(secrets.get_secret_value(SecretId=secret_id).get("SecretString") or "{}")
    except (ValueError, secrets.exceptions.ResourceNotFoundException):
        current = {}
    if not isinstance(current, dict):
        current = {}
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **change}))


def deployed(hint: str = "") -> tuple[Settings, dict[str, str]]:
    """The deployed stack's settings and outputs, or one line saying what to do instead."""
    settings = Settings.load(settings_path())
    if settings is None:
        raise DeployError(f"no {settings_path().name} here: deploy first (make deploy){hint}")
    who_am_i(settings.region)
    stack = describe_stack(settings.stack_name, settings.region)
    if stack is None:
        raise DeployError(f"no stack {settings.stack_name} in {settings.region}: deploy first (make deploy){hint}")
    return settings, outputs(stack)


# The first deploy's questions -------------------------------------------------------------------


def omni_url(answer: str) -> str:
    """acme, acme.omniapp.co or a full URL -> https://acme.omniapp.co/api."""
    text = answer.strip().rstrip("/")
    if re.fullmatch(r"[A-Za-z0-9-]+", text):
        return f"https://{text}.omniapp.co/api"
    if "://" not in text:
        text = f"https://{text}"
    return text if re.search(r"://[^/]+/", text) else f"{text}/api"


def slack_teams(answer: str) -> str:
    teams = [t.strip() for t in answer.split(",") if t.strip()]
    for team in teams:
        if team != "*" and not re.fullmatch(r"[TE][A-Z0-9]{2,}", team):
            raise DeployError(f"{team!r} is not a Slack team id (T… or E…, from app.slack.com/client/T…/…)")
    return ",".join(teams)


@dataclass
class Question:
    key: str
    prompt: str
    secret: bool = False


QUESTIONS = (
    Question("region", "AWS region for the stack [{region}]: "),
    Question("omni", "Your Omni instance (acme, acme.omniapp.co or https://acme.omniapp.co/api): "),
    Question("key", "Omni organization API key (hidden; Enter to put it in the Omni secret later): ", secret=True),
    Question(
        "teams",
        "Slack team id(s) whose members may cancel (T…, comma-separated; * for any workspace that installs the "
        "app; Enter: no one yet, and the first person who tries is told their ids): ",
    ),
    Question("email", "Email for alarms (Enter for none; AWS sends a confirmation first): "),
)


def guided(
    declared: Mapping[str, dict[str, Any]], ask: Ask, ask_secret: Ask, say: Say, stack_name: str
) -> tuple[Settings, str]:
    """The first deploy's answers, and the Omni key (kept in memory only)."""
    say(f"First deploy of {stack_name}: {len(QUESTIONS)} questions; everything else keeps template.yaml's default.")
    default_region = resolved_region()
    answers: dict[str, str] = {}
    for question in QUESTIONS:
        prompt = question.prompt.format(region=default_region or "no default: your AWS configuration has none")
        for attempt in range(3):
            raw = (ask_secret if question.secret else ask)(prompt).strip()
            try:
                answers[question.key] = _answer(question.key, raw, declared, default_region)
                break
            except DeployError as exc:
                say(f"  {exc}")
                if attempt == 2:
                    raise
    parameters = {"OmniBaseUrl": answers["omni"]}
    if answers["teams"]:
        parameters["SlackAllowedTeams"] = answers["teams"]
    if answers["email"]:
        parameters["AlarmEmail"] = answers["email"]
    return Settings(stack_name, answers["region"], parameters), answers["key"]


def _answer(key: str, raw: str, declared: Mapping[str, dict[str, Any]], default_region: str) -> str:
    if key == "region":
        region = raw or default_region
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
            raise DeployError(f"{region or 'nothing'!r} is not an AWS region (such as eu-west-1)")
        return region
    if key == "omni":
        if not raw:
            raise DeployError("the Omni instance is needed (its URL: https://<instance>.omniapp.co/api)")
        url = omni_url(raw)
        check({"OmniBaseUrl": url}, declared)
        return url
    if key == "teams":
        return slack_teams(raw)
    if key == "email" and raw:
        check({"AlarmEmail": raw}, declared)
    return raw


# Deploying --------------------------------------------------------------------------------------


def sam_command(settings: Settings, *, first: bool) -> list[str]:
    sam = str(Path(sys.executable).parent / "sam")
    command = [sam, "deploy", "--stack-name", settings.stack_name, "--region", settings.region]
    if first:
        command.append("--no-confirm-changeset")  # the operator just answered; later deploys show the change set
    if settings.parameters:
        command += ["--parameter-overrides", *(f'{k}="{v}"' for k, v in sorted(settings.parameters.items()))]
    return command


def adopt(stack: Mapping[str, Any], declared: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    """The stack's parameters that differ from template.yaml's defaults."""
    found = {}
    for parameter in stack.get("Parameters", []):
        name, value = parameter["ParameterKey"], str(parameter.get("ParameterValue", ""))
        if name in declared and value != str(declared[name].get("Default", "")):
            found[name] = value
    return found


def from_samconfig(path: Path = ROOT / "samconfig.toml") -> dict[str, str]:
    """Answers an earlier `sam deploy --guided` saved in samconfig.toml (before deploy.toml existed)."""
    from samcli.cli.types import CfnParameterOverridesType

    try:
        saved = tomllib.loads(path.read_text()).get("default", {}).get("deploy", {}).get("parameters", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    overrides = saved.get("parameter_overrides")
    if not overrides:
        return {}
    items = tuple(overrides) if isinstance(overrides, list) else (str(overrides),)
    return {str(k): str(v) for k, v in CfnParameterOverridesType().convert(items, None, None).items()}


def drift(settings: Settings, stack: Mapping[str, Any]) -> list[str]:
    live = {p["ParameterKey"]: str(p.get("ParameterValue", "")) for p in stack.get("Parameters", [])}
    return [
        f"{name}: the stack has {live[name]!r}, {settings_path().name} has {value!r} (deploying the saved value)"
        for name, value in sorted(settings.parameters.items())
        if name in live and live[name] != value
    ]


def first_settings(ask: Ask, ask_secret: Ask, say: Say) -> tuple[Settings, str]:
    """The saved settings; the first time: the stack's own (if it exists), samconfig.toml's old
    answers, or the guided setup's (with the Omni key, which is never saved)."""
    path = settings_path()
    settings = Settings.load(path)
    if settings is not None:
        return settings, ""
    declared = template_parameters()
    omni_key = ""
    stack_name = os.environ.get("STACK_NAME") or DEFAULT_STACK
    imported = from_samconfig()
    region = resolved_region()
    existing = None
    if region:
        who_am_i(region)
        existing = describe_stack(stack_name, region)
    if existing is not None:
        settings = Settings(stack_name, region, adopt(existing, declared))
        say(f"Found stack {stack_name} in {region}: its settings are saved in {path.name}; nothing to ask.")
    elif imported:
        settings = Settings(stack_name, region, imported)
        say(f"Imported the answers samconfig.toml held into {path.name} (git does not track it).")
    else:
        settings, omni_key = guided(declared, ask, ask_secret, say, stack_name)
    if not settings.region:
        raise DeployError("no region: set AWS_REGION or your profile's region, or answer the question")
    settings.save(path)
    say(f"Saved in {path.name}; change a setting with: make configure Name=value")
    return settings, omni_key


def deploy(
    *,
    ask: Ask = input,
    ask_secret: Ask = getpass.getpass,
    say: Say = print,
    run: Callable[[Sequence[str]], int] | None = None,
    dry_run: bool = False,
) -> int:
    settings, omni_key = first_settings(ask, ask_secret, say)
    if not settings.region:  # saved by `make configure` before any region was configured
        settings.region = resolved_region()
        if not settings.region:
            raise DeployError("no region: set AWS_REGION or your profile's region (aws configure), then make deploy")
        settings.save(settings_path())
    who_am_i(settings.region)
    stack = describe_stack(settings.stack_name, settings.region)
    first = stack is None
    if stack is not None:
        for line in drift(settings, stack):
            say(f"note: {line}")
    command = sam_command(settings, first=first)
    if dry_run:
        say("would run: " + " ".join(command))
        if omni_key:
            say("would put the Omni key in the stack's Omni secret")
        return 0
    say(f"{'Creating' if first else 'Updating'} stack {settings.stack_name} in {settings.region} …")
    code = (run or _run)(command)
    if code != 0:
        raise DeployError(f"sam deploy failed (exit {code}); its output above says why")
    stack = describe_stack(settings.stack_name, settings.region)
    if stack is None:
        raise DeployError(f"sam deploy finished but stack {settings.stack_name} is not in {settings.region}")
    found = outputs(stack)
    key_put = bool(omni_key and "OmniSecretArn" not in settings.parameters and found.get("OmniSecretArn"))
    if key_put:
        merge_secret(found["OmniSecretArn"], settings.region, {"api_key": omni_key})
        say("Put the Omni key in the Omni secret.")
    for line in left_to_do(settings, found, omni_key_put=key_put or not first):
        say(line)
    return 0


def _run(command: Sequence[str]) -> int:
    return subprocess.run(list(command), cwd=ROOT, check=False).returncode  # noqa: S603 (our own command line)


def left_to_do(settings: Settings, found: Mapping[str, str], *, omni_key_put: bool = True) -> list[str]:
    lines = [f"\nDeployed {settings.stack_name} in {settings.region}."]
    todo = []
    if not settings.slack.get("app_id"):
        todo.append("make slack-app   creates the Slack app with these URLs and stores its signing secret")
    elif settings.slack.get("command_url") != found.get("SlackCommandUrl"):
        todo.append("make slack-app   the stack's URLs changed: updates the Slack app to them")
    if not omni_key_put:
        todo.append(
            "the Omni key: aws secretsmanager put-secret-value --secret-id "
            f"{found.get('OmniSecretArn', '<OmniSecretArn>')} --secret-string "
            '\'{"api_key": "<Omni org API key>", "user_tokens": {}}\''
        )
    if not settings.parameters.get("SlackAllowedTeams"):
        todo.append(
            "/omni-cancel <any job id> in Slack: the reply names your team and user ids; then "
            "make configure SlackAllowedTeams=T… && make deploy"
        )
    if settings.parameters.get("AlarmEmail"):
        todo.append(f"confirm the subscription email AWS sent to {settings.parameters['AlarmEmail']} (alarms)")
    todo.append(f"make smoke        checks the relay ({found.get('SlackCommandUrl', '').rsplit('/slack/', 1)[0]})")
    return lines + ["Left to do:"] + [f"  {i}. {t}" for i, t in enumerate(todo, 1)]


# make configure ---------------------------------------------------------------------------------


def configure(pairs: Sequence[str], say: Say = print) -> int:
    path = settings_path()
    settings = Settings.load(path)
    if not pairs:
        if settings is None:
            say(f"nothing saved yet: the first `make deploy` asks and writes {path.name}")
            return 0
        say(f"{path.name}: stack {settings.stack_name} in {settings.region}")
        for name, value in sorted(settings.parameters.items()):
            say(f"  {name} = {value!r}")
        return 0
    changes: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise DeployError(f"settings are Name=value, got {pair!r}")
        changes[name] = value
    declared = template_parameters()
    unknown = sorted(set(changes) - set(declared))
    if unknown:
        raise DeployError(f"template.yaml has no parameter {', '.join(unknown)} (docs/deploy-and-operate.md)")
    check(changes, declared)
    if settings is None:
        settings = Settings(os.environ.get("STACK_NAME") or DEFAULT_STACK, resolved_region())
    settings.parameters.update(changes)
    settings.save(path)
    for name, value in changes.items():
        say(f"saved {name}={value!r} in {path.name}; `make deploy` applies it")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["configure"]:
            # From make: command-line variables; only template parameters (CamelCase) are settings.
            return configure([a for a in args[1:] if re.match(r"[A-Z][a-z]", a)])
        return deploy(dry_run=os.environ.get("DRY_RUN", "") not in ("", "0") or "--dry-run" in args)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\nstopped: nothing was deployed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
