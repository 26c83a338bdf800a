"""`make manifest`: the Slack app manifest with this stack's URLs filled in, written to
.aws-sam/slack-app-manifest.yaml (the committed slack-app-manifest.yaml keeps its placeholders).

The URLs come from the deployed stack's outputs (`aws cloudformation describe-stacks`, with your
credentials; STACK_NAME, default omni-cancel-relay), or from URL=<relay base URL> when given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "slack-app-manifest.yaml"
WRITTEN = ROOT / ".aws-sam" / "slack-app-manifest.yaml"


def stack_urls(stack_name: str) -> dict[str, str]:
    import boto3

    [stack] = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def fill(base_url: str | None, outputs: dict[str, str] | None = None) -> str:
    if base_url:
        base = base_url.rstrip("/")
        outputs = {"SlackCommandUrl": f"{base}/slack/commands", "SlackInteractivityUrl": f"{base}/slack/interactions"}
    assert outputs is not None
    text = TEMPLATE.read_text()
    for key in ("SlackCommandUrl", "SlackInteractivityUrl"):
        text = text.replace(f"<{key}>", outputs[key])
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("URL") or None, help="the relay's base URL")
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME") or "omni-cancel-relay")
    args = parser.parse_args()
    try:
        text = fill(args.url, None if args.url else stack_urls(args.stack_name))
    except Exception as exc:  # no credentials, no such stack: say what to do instead
        print(f"error: could not read the stack's outputs ({type(exc).__name__}); give URL=<relay base URL>")
        return 1
    WRITTEN.parent.mkdir(parents=True, exist_ok=True)
    WRITTEN.write_text(text)
    where = "https://api.slack.com/apps -> Create New App -> From a manifest"
    print(f"wrote {WRITTEN.relative_to(ROOT)}: paste it at {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
