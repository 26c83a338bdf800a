"""`make manifest`: the Slack app manifest with this stack's URLs filled in, written to
.aws-sam/slack-app-manifest.yaml (the committed slack-app-manifest.yaml keeps its placeholders).

The URLs and the unfurl domain (the Omni host) come from the deployed stack's outputs (the stack
and region in deploy.toml, with your credentials), or from URL=<relay base URL> and
OMNI_BASE_URL=<your Omni API base URL> when given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tools.deploy import DeployError, deployed

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "slack-app-manifest.yaml"
WRITTEN = ROOT / ".aws-sam" / "slack-app-manifest.yaml"
KEYS = ("SlackCommandUrl", "SlackInteractivityUrl", "SlackEventsUrl", "SlackUnfurlDomain")


def fill(base_url: str | None, outputs: dict[str, str] | None = None, omni_base_url: str = "") -> str:
    if base_url:
        base = base_url.rstrip("/")
        outputs = {
            "SlackCommandUrl": f"{base}/slack/commands",
            "SlackInteractivityUrl": f"{base}/slack/interactions",
            "SlackEventsUrl": f"{base}/slack/events",
            "SlackUnfurlDomain": urlsplit(omni_base_url).hostname or "",
        }
    assert outputs is not None
    missing = [key for key in KEYS if not outputs.get(key)]
    if missing:
        hint = " (give OMNI_BASE_URL=<your Omni API base URL>)" if missing == ["SlackUnfurlDomain"] else ""
        raise DeployError(f"the stack's outputs lack {', '.join(missing)}: deploy this version first{hint}")
    text = TEMPLATE.read_text()
    for key in KEYS:
        text = text.replace(f"<{key}>", outputs[key])
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("URL") or None, help="the relay's base URL")
    parser.add_argument("--omni-base-url", default=os.environ.get("OMNI_BASE_URL", ""), help="with --url")
    args = parser.parse_args()
    try:
        outputs = None if args.url else deployed(", or give URL=<relay base URL> OMNI_BASE_URL=<Omni API base URL>")[1]
        text = fill(args.url, outputs, args.omni_base_url)
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
