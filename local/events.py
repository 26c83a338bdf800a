"""Writes events/: API Gateway HTTP API (payload v2) events for `sam local invoke -e` and for the
tests, signed with the local dev secrets and a fresh timestamp (`make events`): Slack commands, the
message shortcut and a link_shared event, and one real-shaped delivery per webhook source.

Signatures expire after 5 minutes (Slack's replay window): run `make events` right before
`sam local invoke`. Tests re-sign the same files in memory with their own clock.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from local.gateway import http_api_event
from local.slack_signer import DEV_SIGNING_SECRET, events_api, link_shared, message_shortcut, sign, slash_command
from local.webhook_signer import SOURCES, delivery

EVENTS = Path(__file__).resolve().parent.parent / "events"
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"

# name -> (path, slash command text, or a raw form body)
SLACK_EVENTS: dict[str, tuple[str, str]] = {
    "slack_command_cancel.json": ("/slack/commands", JOB),
    "slack_command_url.json": ("/slack/commands", f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}"),
    "slack_command_help.json": ("/slack/commands", "help"),
}


def slack_event(
    path: str, text: str, *, secret: str = DEV_SIGNING_SECRET, timestamp: int | None = None, **fields: str
) -> dict[str, Any]:
    headers, body = slash_command(text, secret=secret, timestamp=timestamp, **fields)
    headers["Host"] = "abc123.execute-api.us-east-1.amazonaws.com"
    return http_api_event("POST", path, headers, body)


def resign(event: dict[str, Any], secret: str, timestamp: int) -> dict[str, Any]:
    """The same event with a signature for `timestamp` over its exact body bytes."""
    import base64

    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = dict(event["headers"])
    headers["x-slack-request-timestamp"] = str(timestamp)
    headers["x-slack-signature"] = sign(secret, body, timestamp)
    context = dict(event["requestContext"], timeEpoch=timestamp * 1000)
    return dict(event, headers=headers, requestContext=context)


def webhook_event(source: str, job_id: str = JOB, *, timestamp: int | None = None, **options: Any) -> dict[str, Any]:
    """A signed, real-shaped delivery from `source` as API Gateway hands it to the function."""
    headers, body = delivery(source, job_id, now=timestamp, **options)
    headers["Host"] = "abc123.execute-api.us-east-1.amazonaws.com"
    event = http_api_event(
        "POST", f"/webhooks/{source}", headers, body, arrival_ms=(timestamp or int(time.time())) * 1000
    )
    return dict(event, routeKey="POST /webhooks/{source}", pathParameters={"source": source})


def slack_in_place(now: int) -> dict[str, tuple[str, dict[str, str], bytes]]:
    """The message shortcut on an alert naming JOB, and a link_shared event for JOB's link."""
    alert = {"text": f"[Triggered] Omni AI job {JOB} running for 2h"}
    link = f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}"
    return {
        "slack_shortcut.json": ("/slack/interactions", *message_shortcut(alert, timestamp=now)),
        "slack_link_shared.json": ("/slack/events", *events_api(link_shared([link]), timestamp=now)),
    }


SIGNED = EVENTS.parent / ".aws-sam" / "events"  # freshly signed copies: the committed events stay as they are


def write_all(target_dir: Path = SIGNED) -> list[Path]:
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    now = int(time.time())
    for name, (path, text) in SLACK_EVENTS.items():
        target = target_dir / name
        event = slack_event(path, text, timestamp=now)
        target.write_text(json.dumps(event, indent=2) + "\n")
        written.append(target)
    ssl = http_api_event(
        "POST", "/slack/commands", {"Content-Type": "application/x-www-form-urlencoded"}, b"ssl_check=1&token=x"
    )
    (target_dir / "slack_ssl_check.json").write_text(json.dumps(ssl, indent=2) + "\n")
    written.append(target_dir / "slack_ssl_check.json")
    for name, (path, headers, body) in slack_in_place(now).items():
        target = target_dir / name
        target.write_text(
            json.dumps(http_api_event("POST", path, headers, body, arrival_ms=now * 1000), indent=2) + "\n"
        )
        written.append(target)
    for source in SOURCES:
        target = target_dir / f"webhook_{source}.json"
        target.write_text(json.dumps(webhook_event(source, timestamp=now), indent=2) + "\n")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path.relative_to(EVENTS.parent)}")  # for sam local invoke -e
    print("signed with the local dev secrets; Slack, Linear and Standard Webhooks events are valid for minutes")
