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
    return signed_payload(payload, secret, timestamp)


def signed_payload(payload: dict, secret: str, timestamp: int | None) -> tuple[dict[str, str], bytes]:
    """An interaction payload as Slack posts it: form field `payload`, signed with `secret` at `timestamp`."""
    import json

    ts = int(time.time()) if timestamp is None else timestamp
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, body, ts),
    }
    return headers, body


def message_shortcut(
    message: dict,
    *,
    callback_id: str = "omni_cancel_from_message",
    secret: str = DEV_SIGNING_SECRET,
    team_id: str = "T0LOCAL01",
    user_id: str = "U0LOCAL01",
    channel_id: str = "C0LOCAL01",
    response_url: str = "https://hooks.slack.com/app/T0LOCAL01/1/local",
    trigger_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed message shortcut (type message_action) on `message`, as Slack sends it."""
    payload = {
        "type": "message_action",
        "token": "deprecated-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "local"},
        "user": {"id": user_id, "username": "local.user", "team_id": team_id, "name": "local.user"},
        "channel": {"id": channel_id, "name": "omni-oncall"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
        "response_url": response_url,
        "message_ts": message.get("ts", "1700000000.000100"),
        "message": {"type": "message", "ts": "1700000000.000100", **message},
    }
    return signed_payload(payload, secret, timestamp)


def unfurl_click(
    job_id: str,
    url: str,
    *,
    action_id: str = "omni_cancel_here",
    secret: str = DEV_SIGNING_SECRET,
    team_id: str = "T0LOCAL01",
    user_id: str = "U0LOCAL01",
    channel_id: str = "C0LOCAL01",
    message_ts: str = "1700000000.000200",
    response_url: str = "https://hooks.slack.com/actions/T0LOCAL01/2/local",
    action_ts: str | None = None,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """A signed block_actions payload from a button on an app unfurl, as Slack sends it."""
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "local"},
        "user": {"id": user_id, "username": "local.user", "team_id": team_id},
        "channel": {"id": channel_id, "name": "omni-oncall"},
        "container": {
            "type": "message_attachment",
            "message_ts": message_ts,
            "attachment_id": 1,
            "channel_id": channel_id,
            "is_ephemeral": False,
            "is_app_unfurl": True,
            "app_unfurl_url": url,
        },
        "is_app_unfurl": True,
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
    return signed_payload(payload, secret, timestamp)


def events_api(
    body: dict,
    *,
    secret: str = DEV_SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int = 0,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed Events API delivery (JSON); a retry carries X-Slack-Retry-Num/-Reason."""
    import json

    ts = int(time.time()) if timestamp is None else timestamp
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, raw, ts),
    }
    if retry_num:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return headers, raw


def link_shared(
    urls: list[str],
    *,
    team_id: str = "T0LOCAL01",
    user_id: str = "U0LOCAL01",
    channel_id: str = "C0LOCAL01",
    message_ts: str = "1700000000.000200",
    event_id: str | None = None,
) -> dict:
    """An event_callback with a link_shared event, as Slack documents it (https://api.slack.com/events/link_shared)."""
    return {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "api_app_id": "A0LOCAL01",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "link_shared",
            "channel": channel_id,
            "is_bot_user_member": True,
            "user": user_id,
            "message_ts": message_ts,
            "unfurl_id": f"C{uuid.uuid4().hex[:8].upper()}.{message_ts}.X",
            "source": "conversations_history",
            "links": [{"domain": url.split("/")[2], "url": url} for url in urls],
            "event_ts": message_ts,
        },
    }
