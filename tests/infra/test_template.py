"""template.yaml, read as data: least-privilege IAM, log retention for every function, a DLQ for
every queue, and a handler behind every API route (checkov and cfn-lint run in `make template`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import relay_app
from local.cloud.gateway import LambdaContext, http_api_event
from local.cloud.sam_template import SamTemplate
from omni_relay.wiring import Runtime

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# What each function needs, and nothing else (as SAM expands the template: its roles, every policy on them).
NEEDED_ACTIONS = {
    "RelayFunction": {
        "secretsmanager:GetSecretValue",  # Slack, Omni and webhook secrets
        "sqs:SendMessage",  # hand-off
        "dynamodb:GetItem",  # de-duplication (Powertools idempotency) and Slack's replay check
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "logs:CreateLogStream",  # its own log group (Lambda writes the function's output with its role)
        "logs:PutLogEvents",
        "dynamodb:Query",  # the audit table: who stopped a job, history
    },
    "WorkerFunction": {
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",  # the next follow-up poll of a cancelled executing job
        "sqs:ReceiveMessage",  # the SQS event source, on the task queue only
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",  # a retry sooner than the visibility timeout
        "dynamodb:GetItem",  # de-duplication, and the follow-up poll budget (UpdateItem)
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:Query",  # the audit table: who stopped a job
    },
}
# Actions AWS grants on no resource but "*" (their Resource types column is empty in the Service
# Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html):
# X-Ray's, which Lambda needs only to send traces (Tracing=Active).
ONLY_ON_EVERY_RESOURCE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Every combination of the parameters that change what a role holds.
COMBINATIONS = [
    {"Tracing": tracing, "SecretsExtensionLayerArn": extension, "WhoMayCancel": who}
    for tracing in ("PassThrough", "Active")
    for extension in ("default", "none")
    for who in ("allow-list", "owner-or-on-call")
]
_NO_VALUE = object()


def expanded(**params: str) -> SamTemplate:
    return SamTemplate(TEMPLATE, {"OmniBaseUrl": "https://acme.omniapp.co/api", **params})


def _decided(value: Any, sam: SamTemplate) -> Any:
    """`value` with each Fn::If decided by the template's conditions for these parameters, as CloudFormation
    decides them at deploy time (AWS::NoValue removes what it is given to); other intrinsics stay."""
    if value == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, yes, no = value["Fn::If"]
        return _decided(yes if sam.condition(condition) else no, sam)
    if isinstance(value, dict):
        decided = {k: _decided(v, sam) for k, v in value.items()}
        return {k: v for k, v in decided.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (_decided(item, sam) for item in value) if v is not _NO_VALUE]
    return value


def deployed_statements(sam: SamTemplate, function: str) -> list[dict[str, Any]]:
    """Every statement `function`'s role holds once deployed: its inline policies and each managed policy's
    own document (AWS's, as moto ships them), conditions decided."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    managed = json.loads(aws_managed_policies_data)
    role = _decided(sam.role_of(function), sam)
    found = [s for policy in role.get("Policies", []) for s in as_list(policy["PolicyDocument"]["Statement"])]
    for arn in role.get("ManagedPolicyArns", []):
        name = json.dumps(arn) if not isinstance(arn, str) else arn.rsplit("/", 1)[-1]
        assert name in managed, f"{function}: a managed policy this test cannot read: {arn}"
        found.extend(as_list(managed[name]["Document"]["Statement"]))
    return found


@pytest.mark.parametrize("params", COMBINATIONS, ids=lambda p: "-".join(p.values()))
def test_no_role_as_sam_deploys_it_allows_anything_on_every_resource(params: dict[str, str]):
    sam = expanded(**params)
    tracing = params["Tracing"] == "Active"
    for function in ("RelayFunction", "WorkerFunction"):
        granted: set[str] = set()
        for statement in deployed_statements(sam, function):
            assert statement["Effect"] == "Allow", (function, statement)
            actions = set(as_list(statement["Action"]))
            assert not any("*" in action for action in actions), (function, statement)
            granted |= actions
            if "*" in as_list(statement["Resource"]):
                assert actions <= ONLY_ON_EVERY_RESOURCE and tracing, (function, params, statement)
        expected = NEEDED_ACTIONS[function] | (ONLY_ON_EVERY_RESOURCE if tracing else set())
        assert granted == expected, (function, params, granted ^ expected)


def test_each_role_acts_on_its_own_log_group_and_queue_only():
    sam = expanded()
    for function, log_group in (("RelayFunction", "RelayLogGroup"), ("WorkerFunction", "WorkerLogGroup")):
        for statement in deployed_statements(sam, function):
            actions = set(as_list(statement["Action"]))
            if actions & {"logs:CreateLogStream", "logs:PutLogEvents"}:
                assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [log_group, "Arn"]}], (function, statement)
            if actions & {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"}:
                assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["TaskQueue", "Arn"]}], (function, statement)
        # The function writes to that log group (not one Lambda would create for it, with no retention).
        logging_config = sam.transformed["Resources"][function]["Properties"]["LoggingConfig"]
        assert logging_config == {"LogGroup": {"Ref": log_group}}, function


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !If, ...) read as their long form."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_function_writes_to_its_own_log_group_with_retention(template: dict[str, Any]):
    groups = resources(template, "AWS::Logs::LogGroup")
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())
    for name, function in resources(template, "AWS::Serverless::Function").items():
        target = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        assert target in groups, f"{name} writes to no log group of the template (Lambda would make one, kept forever)"


def test_every_queue_has_a_dead_letter_queue(template: dict[str, Any]):
    queues = resources(template, "AWS::SQS::Queue")
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"].split(".")[0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for name, queue in queues.items():
        assert "RedrivePolicy" in queue["Properties"] or name in targets, f"{name} has no DLQ and is no DLQ"
    assert targets and all(t in queues for t in targets)


def api_routes(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    routes = []
    for name, function in resources(template, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
                routes.append((name, event["Properties"]["Method"], event["Properties"]["Path"]))
    return routes


def test_every_api_route_has_a_function_and_a_handler_behind_it(
    template: dict[str, Any], runtime: Runtime, use_runtime
):
    use_runtime(runtime)
    routes = api_routes(template)
    assert {path for _, _, path in routes} == {
        "/slack/commands",
        "/slack/interactions",
        "/slack/events",
        "/webhooks/{source}",
    }
    for function, method, path in routes:
        assert function == "RelayFunction"
        concrete = path.replace("{source}", "github")
        event = http_api_event(method, concrete, {"Content-Type": "application/json"}, b"{}")
        result = relay_app.lambda_handler(event, LambdaContext())
        assert '"not_found"' not in result["body"], f"{method} {path}: no handler in relay_app"
        assert result["statusCode"] < 500, result


def test_api_gateway_throttling_is_set(template: dict[str, Any]):
    settings = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
