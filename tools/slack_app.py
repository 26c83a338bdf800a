"""`make slack-app`: the Slack app without copy and paste.

The first time, it creates the app from slack-app-manifest.yaml with the deployed stack's URLs
(Slack's apps.manifest.create), puts the signing secret Slack returns in the stack's Slack secret
(keeping whatever else the secret holds, such as a bot token), saves the app's id in deploy.toml and
prints the link that installs the app in your workspace. After a deploy that changed the stack's
URLs, it updates the app in place (apps.manifest.update); the signing secret stays the same.

It needs an app configuration token: https://api.slack.com/apps -> "Your App Configuration Tokens"
-> Generate Token (xoxe.xoxp-…, valid 12 hours). Give it as SLACK_CONFIG_TOKEN or paste it when asked
(hidden); it is used for these calls only and never written anywhere.

The manual path (make manifest, then paste it at api.slack.com/apps) stays as it was.
SLACK_API_URL points it at another Slack Web API (the tests' stand-in).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

from tools.deploy import DeployError, Settings, deployed, merge_secret, settings_path
from tools.manifest import fill

TOKEN_HELP = "https://api.slack.com/apps -> Your App Configuration Tokens -> Generate Token"


def call(method: str, token: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """One Slack Web API call (form-encoded, the token as a Bearer header), as Slack documents them."""
    base = (os.environ.get("SLACK_API_URL") or "https://slack.com/api").rstrip("/")
    try:
        reply = urllib3.request(
            "POST",
            f"{base}/{method}",
            body=urlencode(dict(fields)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"},
            timeout=20,
            retries=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise DeployError(f"could not reach Slack's Web API at {base} ({type(exc).__name__})") from None
    if reply.status == 429:
        raise DeployError(f"Slack is rate-limiting {method}: try again in {reply.headers.get('Retry-After', '60')} s")
    try:
        body = json.loads(reply.data or b"{}")
    except ValueError:
        raise DeployError(f"Slack answered {method} with HTTP {reply.status} and no JSON") from None
    if not body.get("ok"):
        raise DeployError(explain(method, body))
    return dict(body)


def explain(method: str, body: Mapping[str, Any]) -> str:
    error = str(body.get("error", "unknown_error"))
    if error in ("invalid_auth", "not_authed", "token_expired", "token_revoked"):
        return f"Slack refused the app configuration token ({error}): generate a new one at {TOKEN_HELP}"
    if error == "invalid_manifest":
        problems = "; ".join(f"{e.get('pointer', '')}: {e.get('message', '')}" for e in body.get("errors", []))
        return f"Slack says the manifest is not valid: {problems}"
    if error == "app_not_found" or error == "invalid_app_id":
        return f"Slack has no app {body.get('app_id', '')} for this token ({error}): remove [slack] from deploy.toml"
    return f"Slack answered {method} with {error}"


def manifest_json(found: Mapping[str, str]) -> str:
    manifest = yaml.safe_load(fill(None, dict(found)))
    return json.dumps(manifest, separators=(",", ":"))


def slack_app(
    ask_secret: Callable[[str], str] = getpass.getpass,
    say: Callable[[str], None] = print,
) -> int:
    settings, found = deployed()
    manifest = manifest_json(found)
    token = os.environ.get("SLACK_CONFIG_TOKEN") or ask_secret(
        f"Slack app configuration token ({TOKEN_HELP}; hidden): "
    )
    token = token.strip()
    if not token:
        raise DeployError(f"an app configuration token is needed: {TOKEN_HELP}")
    app_id = settings.slack.get("app_id", "")
    if app_id:
        call("apps.manifest.update", token, {"app_id": app_id, "manifest": manifest})
        remember(settings, app_id, found)
        say(f"Updated Slack app {app_id} to {found['SlackCommandUrl']} and {found['SlackInteractivityUrl']}.")
        return 0
    created = call("apps.manifest.create", token, {"manifest": manifest})
    app_id = str(created["app_id"])
    signing_secret = str(created.get("credentials", {}).get("signing_secret", ""))
    if not signing_secret:
        raise DeployError(
            f"Slack created app {app_id} but returned no signing secret: copy it from its Basic Information"
        )
    secret_id = settings.parameters.get("SlackSecretArn") or found["SlackSecretArn"]
    merge_secret(secret_id, settings.region, {"signing_secrets": [signing_secret]})
    remember(settings, app_id, found)
    say(f"Created Slack app {app_id}; its signing secret is in the Slack secret ({secret_id}).")
    say(f"Install it in your workspace: {created.get('oauth_authorize_url') or f'https://api.slack.com/apps/{app_id}'}")
    say(f"Its settings: https://api.slack.com/apps/{app_id}. Then in Slack: /omni-cancel help")
    return 0


def remember(settings: Settings, app_id: str, found: Mapping[str, str]) -> None:
    settings.slack = {"app_id": app_id, "command_url": found["SlackCommandUrl"]}
    settings.save(settings_path())


def main() -> int:
    import botocore.exceptions

    try:
        return slack_app()
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(
            f"error: could not put the signing secret in the Slack secret ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\nstopped: no Slack app was created", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
