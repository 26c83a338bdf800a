"""The resources template.yaml declares, created in moto server with their properties as
CloudFormation would create them: secrets, queues (visibility timeout, retention, redrive policy to
the dead-letter queue), and tables (key schema, indexes, billing, TTL); log groups get their names and ARNs.
Each one's Ref and GetAtt values go back into the template's resolver, so they reach the functions
exactly where the template puts them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.cloud.sam_template import ACCOUNT, REGION, STACK_NAME, SamTemplate, TemplateError

SUPPORTED = ("AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup")


def physical_name(logical_id: str) -> str:
    """CloudFormation's own pattern for resources the template does not name: <stack>-<logical id>-<suffix>."""
    return f"{STACK_NAME}-{logical_id}"


def create_all(template: SamTemplate, client: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    """Create every supported resource (those a reference points at first) with `client(service)`;
    returns logical id -> {"Ref": ..., "Arn": ..., ...} and fills template.resolved as it goes."""
    clients = {service: client(service) for service in ("secretsmanager", "sqs", "dynamodb")}
    pending = dict(template.resources(*SUPPORTED))
    while pending:
        ready = [lid for lid, res in pending.items() if not (template.references(res) & set(pending))]
        if not ready:
            raise TemplateError(f"circular references between {', '.join(pending)}")
        for logical_id in ready:
            resource = pending.pop(logical_id)
            properties = template.resolve(resource.get("Properties", {}))
            create = {
                "AWS::SecretsManager::Secret": _secret,
                "AWS::SQS::Queue": _queue,
                "AWS::DynamoDB::Table": _table,
                "AWS::Logs::LogGroup": _log_group,
            }[resource["Type"]]
            template.resolved[logical_id] = create(clients, logical_id, properties)
    return dict(template.resolved)


def _log_group(clients: dict[str, Any], logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """Named and given its ARN as CloudFormation would (functions' roles refer to it); CloudWatch Logs itself
    is not emulated: the functions' output goes to the stack's log file."""
    name = props.get("LogGroupName") or physical_name(logical_id)
    return {"Ref": name, "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"}


def _secret(clients: dict[str, Any], logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    created = clients["secretsmanager"].create_secret(
        Name=props.get("Name") or physical_name(logical_id),
        Description=props.get("Description", ""),
        SecretString=props.get("SecretString", ""),
    )
    return {"Ref": created["ARN"], "Id": created["ARN"]}


def _queue(clients: dict[str, Any], logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    sqs = clients["sqs"]
    attributes: dict[str, str] = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "SqsManagedSseEnabled",
        )
        if key in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    name = props.get("QueueName") or physical_name(logical_id)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}


def _table(clients: dict[str, Any], logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    dynamodb = clients["dynamodb"]
    name = props.get("TableName") or physical_name(logical_id)
    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if arguments["BillingMode"] == "PROVISIONED":
        arguments["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if "GlobalSecondaryIndexes" in props:
        arguments["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "SSESpecification" in props:
        arguments["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    arn = dynamodb.create_table(**arguments)["TableDescription"]["TableArn"]
    if "TimeToLiveSpecification" in props:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return {"Ref": name, "Arn": arn}
