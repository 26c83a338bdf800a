"""Send one signed slash command to a running relay and print the reply as Slack would show it.

python -m tools.send [--url http://127.0.0.1:3000] [--secret S] [--user U] [--team T] <text>
python -m tools.send --webhook github|jira|zendesk|pagerduty|linear|teams|standard|shared <job id>
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import urllib3

from tools.signers.slack import DEV_SIGNING_SECRET, slash_command
from tools.signers.webhooks import SOURCES, delivery


def post_command(url: str, text: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    headers, body = slash_command(text, **fields)
    response = urllib3.request("POST", url.rstrip("/") + "/slack/commands", headers=headers, body=body, timeout=10)
    try:
        payload = json.loads(response.data or b"{}")
    except ValueError:
        payload = {"raw": response.data.decode("utf-8", "replace")}
    return response.status, payload


def post_webhook(url: str, source: str, job_id: str, **options: Any) -> tuple[int, dict[str, Any]]:
    """One signed, real-shaped delivery from `source` (see tools.signers.webhooks.delivery for options)."""
    headers, body = delivery(source, job_id, **options)
    response = urllib3.request(
        "POST", f"{url.rstrip('/')}/webhooks/{source}", headers=headers, body=body, timeout=20, retries=False
    )
    try:
        payload = json.loads(response.data or b"{}")
    except ValueError:
        payload = {"raw": response.data.decode("utf-8", "replace")}
    return response.status, payload


def as_slack_shows(status: int, payload: dict[str, Any]) -> str:
    """The words a Slack user reads: the section texts, or the error a non-200 becomes."""
    if status != 200:
        return f"(HTTP {status}: Slack shows the command as failed) {payload.get('message', payload)}"
    texts = []
    for block in payload.get("blocks", []):
        if block.get("type") == "section":
            texts.append(block["text"]["text"])
        elif block.get("type") == "context":
            texts.extend("  " + e.get("text", "") for e in block.get("elements", []))
        elif block.get("type") == "actions":
            texts.append("  " + " ".join(f"[{e['text']['text']}]" for e in block.get("elements", [])))
    return "\n".join(texts) or payload.get("text", "(empty 200)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="*", help="what follows /omni-cancel")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument("--secret", default=os.environ.get("SLACK_SIGNING_SECRET") or DEV_SIGNING_SECRET)
    parser.add_argument("--team", default="T0LOCAL01")
    parser.add_argument("--user", default="U0LOCAL01")
    parser.add_argument(
        "--response-url",
        default=f"http://127.0.0.1:{os.environ.get('CAPTURE_PORT') or 8098}/response",
        help="Slack's response_url, where a result found later is posted (default: make local's capture server;"
        " http://host.docker.internal:8098/response for sam local)",
    )
    parser.add_argument("--webhook", choices=SOURCES, help="send as this webhook source instead of Slack")
    args = parser.parse_args()
    try:
        if args.webhook:
            status, payload = post_webhook(args.url, args.webhook, " ".join(args.text))
            print(status, json.dumps(payload, indent=2))
            return
        status, payload = post_command(
            args.url,
            " ".join(args.text),
            secret=args.secret,
            team_id=args.team,
            user_id=args.user,
            response_url=args.response_url,
        )
    except urllib3.exceptions.HTTPError:
        sys.exit(f"error: nothing answers at {args.url} (start make local, or give --url)")
    print(as_slack_shows(status, payload))


if __name__ == "__main__":
    main()
