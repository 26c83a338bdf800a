"""`make smoke`: checks a running relay end to end without Slack, with signed requests, and prints
one pass/fail line per check; exits non-zero on any failure. The relay: URL=<relay base URL>, else
the deployed stack's (deploy.toml, with your AWS credentials), else `make local`'s.

The Slack signing secret: SLACK_SIGNING_SECRET, else read from the Slack secret in Secrets Manager
(SLACK_SECRET_ID, or the deployed stack's, with your AWS credentials), else the local dev secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

import urllib3

from tools.deploy import DeployError, deployed, settings_path
from tools.send import post_command
from tools.signers.slack import DEV_SIGNING_SECRET

Check = Callable[[str, str], tuple[bool, str]]


def _post(url: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    response = urllib3.request("POST", url.rstrip("/") + path, headers=headers, body=body, timeout=15, retries=False)
    try:
        return response.status, json.loads(response.data or b"{}")
    except ValueError:
        return response.status, {"raw": response.data[:200].decode("utf-8", "replace")}


def ssl_check(url: str, secret: str) -> tuple[bool, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _ = _post(url, "/slack/commands", headers, b"ssl_check=1&token=smoke")
    return status == 200, f"Slack's certificate check answered {status}"


def signed_help(url: str, secret: str) -> tuple[bool, str]:
    status, payload = post_command(url, "help", secret=secret)
    ok = status == 200 and "Usage" in str(payload.get("text", ""))
    return ok, f"a signed `/omni-cancel help` answered {status}: {str(payload.get('text', payload))[:80]}"


def unsigned_refused(url: str, secret: str) -> tuple[bool, str]:
    status, payload = post_command(url, "help", secret="not-the-signing-secret")
    return status == 401, f"a request with a wrong signature answered {status} {payload.get('error', '')}".rstrip()


def webhook_route(url: str, secret: str) -> tuple[bool, str]:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "ping"}
    status, payload = _post(url, "/webhooks/github", headers, b"{}")
    # 401: the route exists and checks signatures; 404 source_not_enabled: it exists, GitHub is not set up.
    ok = status == 401 or (status == 404 and payload.get("error") == "source_not_enabled")
    return ok, f"POST /webhooks/github without a signature answered {status} {payload.get('error', '')}".rstrip()


CHECKS: list[tuple[str, Check]] = [
    ("ssl_check", ssl_check),
    ("signed help", signed_help),
    ("wrong signature refused", unsigned_refused),
    ("webhook route", webhook_route),
]


def signing_secret(secret_id: str = "", region: str | None = None) -> str:
    if os.environ.get("SLACK_SIGNING_SECRET"):
        return os.environ["SLACK_SIGNING_SECRET"]
    secret_id = os.environ.get("SLACK_SECRET_ID") or secret_id
    if not secret_id:
        return DEV_SIGNING_SECRET
    import boto3
    import botocore.exceptions

    try:
        client = boto3.client("secretsmanager", region_name=region)
        secret = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"] or "{}")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError) as exc:
        raise DeployError(
            f"could not read the Slack secret {secret_id} ({type(exc).__name__}): check your AWS credentials "
            "('aws sts get-caller-identity'), or give SLACK_SIGNING_SECRET=…"
        ) from None
    found = secret.get("signing_secrets") or [secret.get("signing_secret", "")]
    if not found or not found[0]:
        raise DeployError(f"the Slack secret {secret_id} holds no signing secret yet: make slack-app puts it")
    return str(found[0])


def listening(url: str) -> bool:
    try:
        urllib3.request("GET", url, timeout=5, retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return True


def target(url: str | None) -> tuple[str, str, str | None]:
    """(base URL, Slack secret id, region) of the relay to check."""
    if url:
        return url, "", None
    if settings_path().exists():
        settings, found = deployed(", or give URL=<relay base URL>")
        return found["SlackCommandUrl"].rsplit("/slack/", 1)[0], found.get("SlackSecretArn", ""), settings.region
    return f"http://127.0.0.1:{os.environ.get('PORT') or 3000}", "", None


def run(url: str, secret: str, out: Callable[[str], None] = print) -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            ok, said = check(url, secret)
        except urllib3.exceptions.HTTPError as exc:
            ok, said = False, f"no answer ({type(exc).__name__})"
        failed += not ok
        out(f"{'PASS' if ok else 'FAIL'}  {name:<24} {said}")
    out(f"{len(CHECKS) - failed}/{len(CHECKS)} checks passed against {url}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("URL") or None)
    args = parser.parse_args()
    try:
        url, secret_id, region = target(args.url)
        secret = signing_secret(secret_id, region)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not listening(url):
        print(f"error: nothing answers at {url} (make local not running? give URL=<relay base URL>)", file=sys.stderr)
        return 1
    return run(url, secret)


if __name__ == "__main__":
    sys.exit(main())
