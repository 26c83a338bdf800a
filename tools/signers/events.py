"""Writes events/: API Gateway HTTP API (payload v2) events for `sam local invoke -e` and for the
tests, signed with the local dev secrets and a fresh timestamp (`make events`): Slack commands, the
message shortcut and a link_shared event, and one real-shaped delivery per webhook source.

What `make events` writes into .aws-sam/events/ is made for `sam local invoke` against `make local`:
- each cancel names a job the local stack has: a fresh running job per event from the stack's Omni
  emulator when one answers (OMNI_EMULATOR_URL, default http://127.0.0.1:8099), else JOB, which
  `make local` creates when it starts;
- no requestContext.timeEpoch: `sam local invoke` starts the container 10-15 s after the event was
  written, so any arrival time in the file would already have spent Slack's 3-second budget; without
  one the relay counts its budget from when it was invoked, as it does for any caller that gives none;
- Slack's response_url on the capture server as a container sees it (host.docker.internal:8098,
  as in events/env.json), so a result posted later arrives there and never goes to hooks.slack.com.
Signatures expire after 5 minutes (Slack's replay window): run `make events` right before
`sam local invoke`. Tests re-sign the same files in memory with their own clock.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from local.cloud.event_source import sqs_event
from local.cloud.gateway import http_api_event
from tools.signers.slack import DEV_SIGNING_SECRET, events_api, link_shared, message_shortcut, sign, slash_command
from tools.signers.webhooks import SOURCES, delivery

EVENTS = Path(__file__).resolve().parents[2] / "events"
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
TASK_QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:omni-cancel-relay-tasks"


def task_event(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    """The worker's SQS event for these task bodies, as the event source delivers it
    (local/cloud/event_source.py), each received for the `receive_count`-th time."""
    attributes = {"ApproximateReceiveCount": str(receive_count)}
    messages = [
        {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": b, "Attributes": attributes} for b in bodies
    ]
    return sqs_event(messages, TASK_QUEUE_ARN, "us-east-1")


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
EMULATOR_URL = "http://127.0.0.1:8099"  # make local's Omni emulator (OMNI_EMULATOR_PORT)
CAPTURE_URL = "http://host.docker.internal:8098"  # make local's capture server, as a sam local container sees it


def running_job(emulator_url: str, key: str = "omni-local-org-key") -> str | None:
    """A fresh running job from the local stack's Omni emulator, or None when none answers there."""
    import urllib3

    try:
        reply = urllib3.request(
            "POST", f"{emulator_url}/_emulator/jobs", json={"key": key, "executing_s": 600}, timeout=2, retries=False
        )
    except urllib3.exceptions.HTTPError:
        return None
    return str(reply.json()["jobId"]) if reply.status == 201 else None


def for_sam_local(event: dict[str, Any]) -> dict[str, Any]:
    """The event without an arrival time (see the module's docstring)."""
    context = {k: v for k, v in event["requestContext"].items() if k not in ("time", "timeEpoch")}
    return dict(event, requestContext=context)


def write_all(
    target_dir: Path = SIGNED, *, emulator_url: str | None = EMULATOR_URL, capture_url: str = CAPTURE_URL
) -> list[Path]:
    """The events for `sam local invoke`, each cancel naming a job from `emulator_url` (JOB without one)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    now = int(time.time())

    def job() -> str:
        return (running_job(emulator_url) if emulator_url else None) or JOB

    def write(name: str, event: dict[str, Any]) -> None:
        target = target_dir / name
        target.write_text(json.dumps(for_sam_local(event), indent=2) + "\n")
        written.append(target)

    for name, (path, text) in SLACK_EVENTS.items():
        text = text.replace(JOB, job()) if JOB in text else text
        reply_to = f"{capture_url}/slack/{name.removesuffix('.json')}"
        write(name, slack_event(path, text, timestamp=now, response_url=reply_to))
    ssl = http_api_event(
        "POST", "/slack/commands", {"Content-Type": "application/x-www-form-urlencoded"}, b"ssl_check=1&token=x"
    )
    write("slack_ssl_check.json", ssl)
    for name, (path, headers, body) in slack_in_place(now).items():
        write(name, http_api_event("POST", path, headers, body, arrival_ms=now * 1000))
    for source in SOURCES:
        write(f"webhook_{source}.json", webhook_event(source, job(), timestamp=now))
    return written


def main() -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("OMNI_EMULATOR_URL") or EMULATOR_URL
    parser.add_argument("--emulator", default=default, help=f"the local stack's Omni emulator (default {default})")
    parser.add_argument("--out", type=Path, default=SIGNED, help="where to write them (default .aws-sam/events)")
    args = parser.parse_args()
    fresh = running_job(args.emulator) is not None
    for path in write_all(args.out, emulator_url=args.emulator if fresh else None):
        print(f"wrote {path}")  # for sam local invoke -e
    if fresh:
        print(f"each cancel names its own running job, created on the Omni emulator at {args.emulator}")
    else:
        print(f"no Omni emulator answers at {args.emulator}: the cancels name {JOB}, which make local creates")
    print("signed with the local dev secrets; Slack, Linear and Standard Webhooks events are valid for minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
