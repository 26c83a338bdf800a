"""Move parked cancels from the dead-letter queue back to the task queue (`make redrive`).

Works against AWS (your credentials) or the local stack (AWS_ENDPOINT_URL). Each task is sent
back unchanged: it holds the job, the requester and where to post the result.
On AWS, `aws sqs start-message-move-task --source-arn <DLQ ARN>` does the same natively.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def redrive(dlq_url: str, queue_url: str, *, limit: int = 1000, sqs: Any = None) -> int:
    import boto3

    sqs = sqs or boto3.client("sqs")
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main() -> int:
    import boto3
    import botocore.exceptions

    from tools.deploy import DeployError, deployed

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dlq-url", help="the TaskDeadLetterQueueUrl stack output (default: the deployed stack's)")
    parser.add_argument("--queue-url", help="the TaskQueueUrl stack output (default: the deployed stack's)")
    args = parser.parse_args()
    try:
        region = None
        if not (args.dlq_url and args.queue_url):
            settings, found = deployed(", or give DLQ_URL=<TaskDeadLetterQueueUrl> QUEUE_URL=<TaskQueueUrl>")
            region = settings.region
            args.dlq_url = args.dlq_url or found["TaskDeadLetterQueueUrl"]
            args.queue_url = args.queue_url or found["TaskQueueUrl"]
        moved = redrive(args.dlq_url, args.queue_url, sqs=boto3.client("sqs", region_name=region))
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(f"error: could not move the parked cancels ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print(f"moved {moved} parked cancel(s) back to the task queue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
