"""No token or secret in any log line, reply, SQS message or DynamoDB item, from the relay's code or any
library's logger, when things go wrong: the end-to-end scenarios (Slack commands and buttons, a
hand-off, a followed executing job, webhooks with comments and the callback, forged and stale
requests) with every post-back sent to a closed port (so urllib3 retries and warns), Omni failing,
every function at DEBUG (POWERTOOLS_LOG_LEVEL, and every library's logger as Lambda's
ApplicationLogLevel sets the root logger), and recognisable secrets. Swept for: every secret value
(Slack, Omni, webhook and callback secrets, comment API and bot tokens, each function's AWS
credentials) and every response_url's token. A task in the queue carries its response_url (the worker
posts there), so the sweep allows it in that one field of an SQS message and nowhere else."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest

from local.cloud.lambda_runtime import FunctionPool, free_port
from local.cloud.stack import CALLBACK_SECRET, LocalStack, credentials_for, webhook_secret
from local.standins.slack_web_api import BOT_TOKEN
from tests.e2e.helpers import stack_config
from tests.e2e.test_secrets_hygiene import MARK, recognisable_secrets
from tools.send import post_command, post_webhook
from tools.signers.slack import button_click

TEAM = "T0SWEEP01"


def slack_url(port: int, kind: str = "commands") -> tuple[str, str]:
    """A response_url shaped as Slack's (https://hooks.slack.com/<kind>/<team>/<id>/<token>), on a closed port."""
    token = f"{MARK}{uuid.uuid4().hex}"
    return f"http://127.0.0.1:{port}/{kind}/{TEAM}/{int(time.time() * 1000)}/{token}", token


@pytest.mark.slow
def test_no_secret_or_response_url_token_in_any_log_line_reply_message_or_item(monkeypatch: pytest.MonkeyPatch):
    values = recognisable_secrets(monkeypatch)
    closed = free_port()  # nothing listens here: every post-back to it fails, and is retried
    callback_token = f"{MARK}-callback-query-token"
    config = stack_config(
        params={
            "LogLevel": "DEBUG",
            "PostbackHosts": f"127.0.0.1:{closed}",
            "CallbackUrl": f"http://127.0.0.1:{closed}/callback?token={callback_token}",
            "TaskMaxReceiveCount": "2",
            "FollowUpMinutes": "1",
        },
        slack_signing_secrets=[values["SLACK_SIGNING_SECRET"]],
        omni_api_key=values["OMNI_API_KEY"],
        application_log_level="DEBUG",
    )
    tasks: list[str] = []
    invoke = FunctionPool.invoke

    def recording(pool: FunctionPool, event: Any) -> Any:
        if pool.name == "WorkerFunction":
            tasks.extend(record["body"] for record in event.get("Records", []))
        return invoke(pool, event)

    monkeypatch.setattr(FunctionPool, "invoke", recording)
    tokens: list[str] = []
    replies: list[Any] = []
    with LocalStack(config) as stack:
        omni = stack.omni
        assert omni is not None and stack.capture is not None
        key = config.omni_api_key
        secret = values["SLACK_SIGNING_SECRET"]

        def command(text: str, **fields: Any) -> None:
            url, token = slack_url(closed)
            tokens.append(token)
            replies.append(post_command(stack.url, text, secret=secret, team_id=TEAM, response_url=url, **fields))

        command(omni.create_job(key=key, queued_s=600))  # answered at once
        command(omni.create_job(key=key, queued_s=0, executing_s=600))  # followed: the worker polls and posts
        command("status " + omni.create_job(key=key, queued_s=600))
        omni.set_faults(latency_s=4, count=1)
        command(omni.create_job(key=key, queued_s=600))  # too slow: handed off, the worker posts the result
        omni.set_faults(status=500, count=-1)
        command(omni.create_job(key=key, queued_s=600))  # Omni down: handed off, retried, parked, told
        replies.append(post_webhook(stack.url, "github", omni.create_job(key=key, queued_s=600)))
        omni.set_faults()
        job = omni.create_job(key=key, queued_s=600)
        url, token = slack_url(closed, "actions")
        tokens.append(token)
        headers, body = button_click(job, secret=secret, team_id=TEAM, response_url=url)
        import urllib3

        answer = urllib3.request("POST", stack.url + "/slack/interactions", headers=headers, body=body, timeout=20)
        replies.append((answer.status, answer.data.decode()))
        replies.append(post_webhook(stack.url, "jira", omni.create_job(key=key, queued_s=600)))
        replies.append(post_webhook(stack.url, "standard", omni.create_job(key=key, queued_s=600)))
        replies.append(post_command(stack.url, "help", secret="forged", team_id=TEAM))  # 401
        replies.append(post_command(stack.url, "help", secret=secret, timestamp=int(time.time()) - 400))  # stale

        # The worker's attempts: the hand-offs, the parked one, the follow-up polls, each post-back failing.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stack.function_logs().count("post-back failed") < 4:
            time.sleep(0.5)
        time.sleep(2)
        logs = stack.function_logs()
        levels = {(env["POWERTOOLS_LOG_LEVEL"], env["AWS_LAMBDA_LOG_LEVEL"]) for env in stack.environments.values()}
        assert levels == {("DEBUG", "DEBUG")}
        items = stack.aws("dynamodb").scan(TableName=stack.resource("IdempotencyTable"))["Items"]
        stack.gate.decisions.clear()

    assert "Retrying (Retry(" in logs, "urllib3 never warned: the sweep saw nothing"
    assert "Making request for OperationModel" in logs, "botocore did not log at DEBUG: the sweep saw less"
    assert logs.count("post-back failed") >= 4 and len(tasks) >= 3

    secrets = [*values.values(), CALLBACK_SECRET, callback_token, BOT_TOKEN]
    secrets += [v for entry in webhook_secret({}, "").values() for k, v in entry.items() if k == "api_token"]
    secrets.append(base64.b64decode(values["TEAMS_WEBHOOK_SECRET"]).decode())
    for function in ("RelayFunction", "WorkerFunction"):
        secrets += [credentials_for(function)["secret"], credentials_for(function)["sessiontoken"]]
    places = {
        "log lines": logs.splitlines(),
        "replies": [json.dumps(r) for r in replies],
        "DynamoDB items": [json.dumps(item) for item in items],
        # The task's own reply.url is where the worker posts: the one place a response_url must be.
        "SQS messages (but their reply.url)": [json.dumps(_without_reply_url(task)) for task in tasks],
        "SQS messages": tasks,
    }
    hits = []
    for place, texts in places.items():
        searched = secrets if place == "SQS messages" else [*secrets, *tokens]
        hits += [(place, value[:16], text[:300]) for text in texts for value in searched if value in text]
    print(
        f"\nlog sweep: {len(places['log lines'])} log lines, {len(replies)} replies, {len(tasks)} SQS messages, "
        f"{len(items)} DynamoDB items; {len(secrets)} secrets and {len(tokens)} response_url tokens searched; "
        f"hits = {len(hits)}"
    )
    assert not hits, hits[:5]


def _without_reply_url(task: str) -> Any:
    value = json.loads(task)
    value.get("reply", {}).pop("url", None)
    return value
