"""Signing requests the way Slack does, for the demo, the tests and `make events`."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import urlencode

# The documented local development signing secret (never used outside the local stack).
DEV_SIGNING_SECRET = "local-dev-signing-secret-0123456789"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slash_command(
    text: str,
    *,
    secret: str = DEV_SIGNING_SECRET,
    team_id: str = "T0LOCAL01",
    user_id: str = "U0LOCAL01",
    channel_id: str = "C0LOCAL01",
    user_name: str = "local.user",
    response_url: str = "https://hooks.slack.com/commands/T0LOCAL01/1/local",
    command: str = "/omni-cancel",
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and form body of a signed slash command, as Slack sends it."""
    body = urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "team_domain": "local",
            "channel_id": channel_id,
            "channel_name": "omni-oncall",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0LOCAL01",
            "response_url": response_url,
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",  # unique, as Slack's
        }
    ).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, body, ts),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    return headers, body


def button_click(
    job_id: str,
    *,
    action_id: str = "omni_cancel_job",
    secret: str = DEV_SIGNING_SECRET,
    team_id: str = "T0LOCAL01",
    user_id: str = "U0LOCAL01",
    channel_id: str = "C0LOCAL01",
    response_url: str = "https://hooks.slack.com/actions/T0LOCAL01/1/local",
    action_ts: str | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed block_actions interaction (a button click), as Slack sends it."""
    import json

    ts = int(time.time()) if timestamp is None else timestamp
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "local"},
        "user": {"id": user_id, "username": "local.user", "team_id": team_id},
        "channel": {"id": channel_id, "name": "omni-oncall"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel_id},
        "response_url": response_url,
        "trigger_id": "0000000000.0000000000.local",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "omni",
                "value": job_id,
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, body, ts),
    }
    return headers, body
