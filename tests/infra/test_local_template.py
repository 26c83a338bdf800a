"""The local stack reads template.yaml with SAM CLI's code: parameters checked as CloudFormation
checks them, each function's environment and IAM policy as deployed, routes as API Gateway matches them."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.cloud.iam_gate import evaluate
from local.cloud.sam_template import Route, SamTemplate, TemplateError

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:stack-TaskQueue"
CREATED = {
    "OmniSecret": {"Ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:omni-AbCdEf"},
    "SlackSecret": {"Ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf"},
    "WebhookSecret": {"Ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhooks-AbCdEf"},
    "TaskQueue": {"Ref": "http://sqs/123456789012/stack-TaskQueue", "Arn": QUEUE_ARN, "QueueName": "stack-TaskQueue"},
    "TaskDeadLetterQueue": {
        "Ref": "http://sqs/dlq",
        "Arn": "arn:aws:sqs:us-east-1:123456789012:dlq",
        "QueueName": "dlq",
    },
    "IdempotencyTable": {"Ref": "stack-table", "Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/stack-table"},
    "AuditTable": {"Ref": "stack-audit", "Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/stack-audit"},
}


def deployed(**params: str) -> SamTemplate:
    template = SamTemplate(TEMPLATE, {"OmniBaseUrl": "https://acme.omniapp.co/api", **params})
    template.resolved = dict(CREATED)
    return template


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"OmniBaseUrl": "http://evil.example.com/api"}, "OmniBaseUrl"),
        ({"OmniBaseUrl": "https://acme.omniapp.co/api", "Architecture": "sparc"}, "not one of"),
        ({"OmniBaseUrl": "https://acme.omniapp.co/api", "WorkerMaxConcurrency": "1"}, "outside"),
        ({"OmniBaseUrl": "https://acme.omniapp.co/api", "NoSuchParameter": "x"}, "no parameter"),
        ({}, "OmniBaseUrl has no default"),
    ],
)
def test_parameters_are_checked_as_cloudformation_checks_them(params: dict[str, str], words: str):
    with pytest.raises(TemplateError, match=words):
        SamTemplate(TEMPLATE, params)


def test_both_functions_get_every_allow_list_and_the_resources_by_their_ref():
    functions = deployed(SlackAllowedTeams="T1", GithubAllowed="acme/data").functions()
    for name in ("RelayFunction", "WorkerFunction"):
        env = functions[name].variables
        assert env["SLACK_ALLOWED_TEAMS"] == "T1" and env["GITHUB_ALLOWED"] == "acme/data", name
        assert env["CANCEL_QUEUE_URL"] == CREATED["TaskQueue"]["Ref"], name
        assert env["OMNI_SECRET_ID"] == CREATED["OmniSecret"]["Ref"], name
        assert env["AWS_ENDPOINT_URL"] == "", name  # empty in AWS; declared so env files can set it


def test_each_function_may_do_what_its_policy_says_and_nothing_more():
    policies = deployed().policies()
    relay, worker = policies["RelayFunction"], policies["WorkerFunction"]
    assert evaluate(relay, "sqs:SendMessage", QUEUE_ARN)
    assert not evaluate(relay, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:another-queue")
    assert evaluate(worker, "sqs:SendMessage", QUEUE_ARN)  # the next follow-up poll
    assert not evaluate(worker, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:another-queue")
    assert evaluate(worker, "sqs:ChangeMessageVisibility", QUEUE_ARN)  # SQSPollerPolicy, as SAM expands it
    assert evaluate(worker, "secretsmanager:GetSecretValue", CREATED["OmniSecret"]["Ref"])
    assert evaluate(worker, "secretsmanager:GetSecretValue", CREATED["SlackSecret"]["Ref"])  # NotifyOwner's bot token
    audit = CREATED["AuditTable"]["Arn"]
    for policy in (relay, worker):
        assert evaluate(policy, "dynamodb:PutItem", audit) and evaluate(policy, "dynamodb:Query", audit)
        assert not evaluate(policy, "dynamodb:Scan", audit) and not evaluate(policy, "dynamodb:DeleteItem", audit)
    assert evaluate(relay, "dynamodb:Query", f"{audit}/index/by-day")  # history, for people on call
    assert not evaluate(worker, "dynamodb:Query", f"{audit}/index/by-day")


def test_routes_match_as_api_gateway_does():
    route = Route("POST", "/webhooks/{source}", "RelayFunction")
    assert route.match("POST", "/webhooks/github") == {"source": "github"}
    assert route.match("GET", "/webhooks/github") is None
    assert route.match("POST", "/webhooks/github/extra") is None
    assert {r.route_key for r in deployed().routes()} == {
        "POST /slack/commands",
        "POST /slack/interactions",
        "POST /slack/events",
        "POST /webhooks/{source}",
    }


def test_the_worker_reads_the_slack_secret_only_when_it_must_check_who_asked_or_tell_an_owner():
    slack_secret = CREATED["SlackSecret"]["Ref"]
    quiet = deployed(NotifyOwner="false").policies()["WorkerFunction"]
    owner_mode = deployed(WhoMayCancel="owner-or-on-call", NotifyOwner="false").policies()["WorkerFunction"]
    telling = deployed().policies()["WorkerFunction"]
    assert not evaluate(quiet, "secretsmanager:GetSecretValue", slack_secret)
    assert evaluate(owner_mode, "secretsmanager:GetSecretValue", slack_secret)  # the bot token, for hand-offs
    assert evaluate(telling, "secretsmanager:GetSecretValue", slack_secret)  # the bot token, to tell owners
    functions = deployed(WhoMayCancel="owner-or-on-call", OnCall="S0ONCALL1").functions()
    for name in ("RelayFunction", "WorkerFunction"):  # both decide: the relay at once, the worker on hand-offs
        env = functions[name].variables
        assert (env["WHO_MAY_CANCEL"], env["ON_CALL"], env["SLACK_API_URL"]) == ("owner-or-on-call", "S0ONCALL1", "")


def test_the_local_stack_holds_each_function_to_the_role_the_template_gives_it():
    """The roles are the template's own (no managed policy SAM would attach): the worker polls its queue and
    no other, X-Ray only with Tracing=Active, a batch call authorised as its single action (as SQS does)."""
    from local.cloud.iam_gate import AUTHORIZED_AS

    other = "arn:aws:sqs:us-east-1:123456789012:payroll-events"
    for tracing in ("PassThrough", "Active"):
        policies = deployed(Tracing=tracing).policies()
        worker, relay = policies["WorkerFunction"], policies["RelayFunction"]
        for action in (
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ):
            assert evaluate(worker, action, QUEUE_ARN) and not evaluate(worker, action, other), action
            assert not evaluate(relay, action, QUEUE_ARN), action
        assert evaluate(worker, AUTHORIZED_AS["sqs:DeleteMessageBatch"], QUEUE_ARN)
        for function in (worker, relay):
            assert not evaluate(function, "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x:*")
            assert evaluate(function, "xray:PutTraceSegments", "*") is (tracing == "Active")
