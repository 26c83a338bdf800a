"""Day two, read from template.yaml: alarms that reach someone, upgrades through an alias that roll
back on the error alarms, the Serverless Application Repository metadata, and a README that lists
every parameter, alarm and emitted metric (so none of them can drift)."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.cloud.sam_template import REGION, SamTemplate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# The operator's page of the docs (docs/deploy-and-operate.md) holds the parameter and metric tables.
README = (ROOT / "docs" / "deploy-and-operate.md").read_text()
FUNCTIONS = ("RelayFunction", "WorkerFunction")
ROLLBACK_ALARMS = {
    "RelayFunction": {"RelayErrorsAlarm", "ApiServerErrorsAlarm"},
    "WorkerFunction": {"WorkerErrorsAlarm"},
}


def deployed(**params: str) -> SamTemplate:
    return SamTemplate(TEMPLATE, {"OmniBaseUrl": "https://acme.omniapp.co/api", **params})


def transformed(template: SamTemplate) -> dict[str, Any]:
    """What the AWS::Serverless transform makes of the template at deploy time."""
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    raw = copy.deepcopy(template.raw)
    for resource in raw["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/artifact.zip"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION), metrics=Metrics())
    values = {"AWS::Region": REGION, **template.parameters}
    return dict(translator.translate(raw, parameter_values=values, get_managed_policy_map=dict))


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return transformed(deployed())["Resources"]


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def test_the_api_and_the_event_source_call_the_live_alias(cfn: dict[str, Any]):
    for function in FUNCTIONS:
        alias = cfn[f"{function}Aliaslive"]
        assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live"
    for path, route in cfn["HttpApi"]["Properties"]["Body"]["paths"].items():
        uri = route["post"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert "${RelayFunctionAliaslive}" in uri, path
    mapping = next(r for r in cfn.values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionName"] == {"Ref": "WorkerFunctionAliaslive"}


@pytest.mark.parametrize("strategy", ["Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce"])
def test_upgrades_follow_the_deployment_strategy_and_roll_back_on_the_error_alarms(strategy: str):
    resources = transformed(deployed(DeploymentStrategy=strategy))["Resources"]
    for function in FUNCTIONS:
        group = resources[f"{function}DeploymentGroup"]["Properties"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"] == strategy
        assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == ROLLBACK_ALARMS[function]
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        update = resources[f"{function}Aliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["DeploymentGroupName"] == {"Ref": f"{function}DeploymentGroup"}


def test_the_default_upgrade_is_a_canary(cfn: dict[str, Any]):
    assert deployed().parameters["DeploymentStrategy"].startswith("Canary")


def test_every_alarm_notifies_the_stacks_topic_and_the_email_is_subscribed(cfn: dict[str, Any]):
    found = alarms(cfn)
    expected = {
        "ParkedCancelsAlarm",
        "OmniKeyRejectedAlarm",
        "OmniBudgetExhaustedAlarm",
        "RejectedSignaturesAlarm",
        "RelayErrorsAlarm",
        "RelayThrottlesAlarm",
        "WorkerErrorsAlarm",
        "WorkerThrottlesAlarm",
        "ApiServerErrorsAlarm",
        "HandoffFailuresAlarm",
        "PostBackFailuresAlarm",
    }
    assert set(found) == expected
    topic = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], name
    template = deployed(AlarmEmail="ops@acme.example")
    assert template.condition("CreateAlarmTopic") and template.condition("HasAlarmEmail")
    subscription = cfn["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert cfn["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    existing = deployed(AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:pager")
    assert not existing.condition("CreateAlarmTopic")
    assert not deployed().condition("HasAlarmEmail")


def test_function_alarms_watch_what_the_alias_serves(cfn: dict[str, Any]):
    found = alarms(cfn)
    for name, function in (
        ("RelayErrorsAlarm", "RelayFunction"),
        ("RelayThrottlesAlarm", "RelayFunction"),
        ("WorkerErrorsAlarm", "WorkerFunction"),
        ("WorkerThrottlesAlarm", "WorkerFunction"),
    ):
        dimensions = {d["Name"]: d["Value"] for d in found[name]["Dimensions"]}
        assert dimensions == {"FunctionName": {"Ref": function}, "Resource": {"Fn::Sub": f"${{{function}}}:live"}}
    assert {d["Name"]: d["Value"] for d in found["ApiServerErrorsAlarm"]["Dimensions"]} == {"ApiId": {"Ref": "HttpApi"}}
    for name in ("HandoffFailuresAlarm", "PostBackFailuresAlarm"):
        assert found[name]["Namespace"] == "OmniCancelRelay"
        assert found[name]["Dimensions"] == [{"Name": "service", "Value": "omni-cancel-relay"}]


def test_the_application_can_be_published_at_the_projects_version():
    application = deployed().raw["Metadata"]["AWS::ServerlessRepo::Application"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert application["SemanticVersion"] == version
    assert {"Name", "Description", "Author", "ReadmeUrl"} <= set(application)
    assert (ROOT / application["ReadmeUrl"]).exists()


# The README, checked against the template and the code -------------------------------------------


def readme_section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end != -1 else None]


def test_the_readme_parameter_table_lists_every_parameter_with_its_default():
    table = readme_section("### Parameters")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, re.MULTILINE))
    declared = deployed().raw["Parameters"]
    assert set(rows) == set(declared), set(rows) ^ set(declared)
    for name, spec in declared.items():
        default = str(spec.get("Default", "—"))
        shown = rows[name].strip().strip("`")
        assert shown == (default if default else "(empty)") or (default == "—" and shown == "required"), name


def emitted_metrics() -> set[str]:
    """Every metric name the code emits: count("X"), count("X" if … else "Y"), add_metric(name="X"),
    and Powertools' ColdStart where the relay asks for it."""
    names: set[str] = set()
    for path in [*(ROOT / "layers/core/omni_relay").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        text = path.read_text()
        for first, second in re.findall(r'count\(\s*"(\w+)"(?: if [^"]* else "(\w+)")?', text):
            names |= {first, second} - {""}
        names |= set(re.findall(r'add_metric\(\s*name="(\w+)"', text))
        if "capture_cold_start_metric=True" in text:
            names.add("ColdStart")
    return names


def test_the_readme_lists_every_emitted_metric_and_every_alarm(cfn: dict[str, Any]):
    metrics = emitted_metrics()
    assert {"Outcomes", "HandoffFailures", "PostBackFailures", "FollowUps", "ColdStart"} <= metrics
    section = readme_section("### Metrics and alarms")
    listed = set(re.findall(r"^\| `(\w+)`", section, re.MULTILINE))
    assert metrics <= listed, metrics - listed
    assert set(alarms(cfn)) <= listed, set(alarms(cfn)) - listed
