"""`make manifest`: the Slack app manifest with this stack's URLs filled in, written to
.aws-sam/slack-app-manifest.yaml (the committed slack-app-manifest.yaml keeps its placeholders).

The URLs come from the deployed stack's outputs (the stack and region in deploy.toml, with your
credentials), or from URL=<relay base URL> when given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.deploy import DeployError, deployed

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "slack-app-manifest.yaml"
WRITTEN = ROOT / ".aws-sam" / "slack-app-manifest.yaml"


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
    args = parser.parse_args()
    try:
        text = fill(args.url, None if args.url else deployed(", or give URL=<relay base URL>")[1])
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    WRITTEN.parent.mkdir(parents=True, exist_ok=True)
    WRITTEN.write_text(text)
    where = "https://api.slack.com/apps -> Create New App -> From a manifest"
    print(f"wrote {WRITTEN.relative_to(ROOT)}: paste it at {where} (or let make slack-app create the app)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
