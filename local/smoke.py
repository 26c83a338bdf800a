"""`make smoke URL=<relay base URL>`: checks a running relay end to end without Slack, with signed
requests, and prints one pass/fail line per check; exits non-zero on any failure. Works against any
relay: a deployed stack (its SlackCommandUrl without /slack/commands) or `make local`.

The Slack signing secret: SLACK_SIGNING_SECRET, else read from the stack's Slack secret in Secrets
Manager (SLACK_SECRET_ID, with your AWS credentials), else the local dev secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

import urllib3

from local.send import post_command
from local.slack_signer import DEV_SIGNING_SECRET

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


def signing_secret() -> str:
    if os.environ.get("SLACK_SIGNING_SECRET"):
        return os.environ["SLACK_SIGNING_SECRET"]
    if os.environ.get("SLACK_SECRET_ID"):
        import boto3

        value = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SLACK_SECRET_ID"])
        secret = json.loads(value["SecretString"])
        return str((secret.get("signing_secrets") or [secret.get("signing_secret", "")])[0])
    return DEV_SIGNING_SECRET


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
    parser.add_argument("--url", default=os.environ.get("URL") or "http://127.0.0.1:3000")
    args = parser.parse_args()
    return run(args.url, signing_secret())


if __name__ == "__main__":
    sys.exit(main())
