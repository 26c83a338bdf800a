"""Least privilege as deployed: each function's credentials, through the local stack's IAM gate (which
holds them to the roles SAM expands from template.yaml), reach their own queue, table and secrets and
nothing else in the account: not another team's queue, not another table."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.cloud.sam_template import REGION
from local.cloud.stack import LocalStack, credentials_for
from tests.e2e.helpers import stack_config


def client_of(stack: LocalStack, function: str, service: str) -> Any:
    """A boto3 client holding `function`'s own role credentials, as its code (or anyone who took them) has."""
    creds = credentials_for(function)
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=stack.gate.url,
        region_name=REGION,
        aws_access_key_id=creds["key"],
        aws_secret_access_key=creds["secret"],
        aws_session_token=creds["sessiontoken"],
    )


def refused(call: Any, **arguments: Any) -> bool:
    try:
        call(**arguments)
    except ClientError as exc:
        return "AccessDenied" in exc.response["Error"]["Code"]
    return False


@pytest.fixture(scope="module")
def stack() -> Any:
    with LocalStack(stack_config(worker=False)) as running:
        yield running


def test_each_function_is_refused_a_queue_of_someone_else(stack: LocalStack):
    admin = stack.aws("sqs")
    payroll = admin.create_queue(QueueName="payroll-events")["QueueUrl"]
    admin.send_message(QueueUrl=payroll, MessageBody='{"employee": "E1", "salary": 1}')
    for function in ("WorkerFunction", "RelayFunction"):
        sqs = client_of(stack, function, "sqs")
        assert refused(sqs.receive_message, QueueUrl=payroll, MaxNumberOfMessages=10), function
        assert refused(sqs.get_queue_attributes, QueueUrl=payroll, AttributeNames=["All"]), function
        assert refused(sqs.delete_message, QueueUrl=payroll, ReceiptHandle="AQEB-anything"), function
        assert refused(sqs.send_message, QueueUrl=payroll, MessageBody="x"), function
    assert (
        admin.get_queue_attributes(QueueUrl=payroll, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "1"
    ), "someone read and deleted the unrelated queue's message"
    # Its own queue, as the SQS event source polls it with its credentials: allowed.
    worker = client_of(stack, "WorkerFunction", "sqs")
    worker.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])
    worker.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=0)
    assert refused(client_of(stack, "RelayFunction", "sqs").receive_message, QueueUrl=stack.queue_url)
    stack.gate.decisions.clear()  # the refusals above were the point


def test_each_function_is_refused_a_table_of_someone_else(stack: LocalStack):
    admin = stack.aws("dynamodb")
    admin.create_table(
        TableName="payroll",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for function in ("WorkerFunction", "RelayFunction"):
        dynamodb = client_of(stack, function, "dynamodb")
        assert refused(dynamodb.get_item, TableName="payroll", Key={"id": {"S": "E1"}}), function
        assert refused(dynamodb.put_item, TableName="payroll", Item={"id": {"S": "E1"}}), function
    stack.gate.decisions.clear()
