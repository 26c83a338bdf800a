"""The peer: what a team would otherwise write. A minimal Slack Bolt for Python app on Lambda that
cancels an Omni AI job from a slash command: SlackRequestHandler, process_before_response, the
signing secret (and bot token) read from Secrets Manager with boto3 at start-up, the cancel made
with urllib3. `authorize` hands Bolt the token directly, so no Slack API call is made (offline).
"""

import json
import os

import boto3
import urllib3
from slack_bolt import App
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult

_secrets = boto3.client("secretsmanager")
SLACK = json.loads(_secrets.get_secret_value(SecretId=os.environ["SLACK_SECRET_ID"])["SecretString"])
OMNI = json.loads(_secrets.get_secret_value(SecretId=os.environ["OMNI_SECRET_ID"])["SecretString"])
OMNI_BASE_URL = os.environ["OMNI_BASE_URL"].rstrip("/")
http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=2), retries=False)


def authorize(enterprise_id, team_id, logger):
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token=SLACK.get("bot_token", "xoxb-bench"),
        bot_user_id="U0BENCHBOT",
        bot_id="B0BENCHBOT",
    )


app = App(signing_secret=SLACK["signing_secrets"][0], authorize=authorize, process_before_response=True)


@app.command("/omni-cancel")
def cancel(ack, command):
    job_id = command["text"].strip()
    response = http.request(
        "POST",
        f"{OMNI_BASE_URL}/v1/ai/jobs/{job_id}/cancel",
        headers={"Authorization": f"Bearer {OMNI['api_key']}", "Accept": "application/json"},
    )
    state = json.loads(response.data or b"{}").get("state", "unknown")
    ack(response_type="ephemeral", text=f"Job {job_id} is {state}.")


handler = SlackRequestHandler(app)


def lambda_handler(event, context):
    return handler.handle(event, context)
