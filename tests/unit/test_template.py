"""template.yaml, read as data: least-privilege IAM, log retention for every function, a DLQ for
every queue, and a handler behind every API route (checkov and cfn-lint run in `make template`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import relay_app
from local.gateway import LambdaContext, http_api_event
from omni_relay import wiring
from omni_relay.wiring import Runtime

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# What each function needs, and nothing else.
NEEDED_ACTIONS = {
    "RelayFunction": {
        "secretsmanager:GetSecretValue",  # Slack, Omni and webhook secrets
        "sqs:SendMessage",  # hand-off
        "dynamodb:GetItem",  # de-duplication (Powertools idempotency)
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "WorkerFunction": {
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",  # the next follow-up poll of a cancelled executing job
        "dynamodb:GetItem",  # de-duplication, and the follow-up poll budget (UpdateItem)
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
}
# SAM policy templates allowed, with the one resource each may be scoped to.
POLICY_TEMPLATES = {"WorkerFunction": {"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": "TaskQueue.QueueName"}}}}


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


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_has_a_wildcard_or_an_action_its_function_does_not_need(template: dict[str, Any]):
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(NEEDED_ACTIONS)
    for name, function in functions.items():
        granted: set[str] = set()
        for statement in statements(function):
            assert statement["Effect"] == "Allow", (name, statement)
            for action in as_list(statement["Action"]):
                assert "*" not in action, (name, action)
                granted.add(action)
            for resource in as_list(statement["Resource"]):
                assert resource != "*" and "*" not in str(resource), (name, resource)
        assert granted == NEEDED_ACTIONS[name], (name, granted ^ NEEDED_ACTIONS[name])
        templates = {
            k: v
            for p in function["Properties"].get("Policies", [])
            if isinstance(p, dict)
            for k, v in p.items()
            if k != "Version" and k != "Statement"
        }
        assert templates == POLICY_TEMPLATES.get(name, {}), (name, templates)


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]):
    groups = resources(template, "AWS::Logs::LogGroup")
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())
    named = {str(g["Properties"].get("LogGroupName")) for g in groups.values()}
    for name in resources(template, "AWS::Serverless::Function"):
        assert str({"Fn::Sub": f"/aws/lambda/${{{name}}}"}) in named, f"{name} has no log group with retention"


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


def test_every_api_route_has_a_function_and_a_handler_behind_it(template: dict[str, Any], runtime: Runtime):
    wiring.use(runtime)
    routes = api_routes(template)
    assert {path for _, _, path in routes} == {"/slack/commands", "/slack/interactions", "/webhooks/{source}"}
    for function, method, path in routes:
        assert function == "RelayFunction"
        concrete = path.replace("{source}", "github")
        event = http_api_event(method, concrete, {"Content-Type": "application/json"}, b"{}")
        result = relay_app.lambda_handler(event, LambdaContext())
        assert '"not_found"' not in result["body"], f"{method} {path}: no handler in relay_app"
        assert result["statusCode"] < 500, result
    wiring.use(None)


def test_api_gateway_throttling_is_set(template: dict[str, Any]):
    settings = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
