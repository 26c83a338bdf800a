"""The whole demo scenario (Slack commands, a hand-off, GitHub, Jira and Teams webhooks, forged
requests) with recognisable secret values: none may appear in any log line, metric, reply, post-back
body or exception text. Credentials may only travel where they belong: to Omni and the vendor APIs,
in their Authorization headers."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

import local.demo as demo
from local.cloud.stack import CALLBACK_SECRET, LocalStack, webhook_secret
from tools.signers.webhooks import secrets_for

MARK = "HYGIENE"


def recognisable_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SLACK_SIGNING_SECRET": f"{MARK}-slack-signing-7Qx",
        "OMNI_API_KEY": f"{MARK}-omni-org-key-3Kd",
        **{f"{s.upper()}_WEBHOOK_SECRET": v for s, v in secrets_for(MARK).items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_no_secret_appears_anywhere_in_the_demo(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]):
    values = recognisable_secrets(monkeypatch)
    config = demo.demo_config(bob_token=f"{MARK}-bob-personal-token")
    config.params["LogLevel"] = "DEBUG"  # everything the functions log, at every level
    if os.environ.get("RELAY_TEMPLATE"):
        config.template = Path(os.environ["RELAY_TEMPLATE"])
    replies: list[Any] = []
    stacks: list[LocalStack] = []

    def recorded(send: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            reply = send(*args, **kwargs)
            replies.append(reply)
            return reply

        return wrapper

    class Recording(LocalStack):
        def start(self) -> LocalStack:
            stacks.append(self)
            return super().start()

    monkeypatch.setattr(demo, "post_command", recorded(demo.post_command))
    monkeypatch.setattr(demo, "post_webhook", recorded(demo.post_webhook))
    monkeypatch.setattr(demo, "LocalStack", Recording)
    failures = demo.main(config)
    out = capfd.readouterr()
    logs = stacks[0].function_logs()
    assert failures == 0, out.out  # the demo's own account of each scene, ✗ where one went wrong

    capture = stacks[0].capture
    assert capture is not None
    secrets = [*values.values(), f"{MARK}-bob-personal-token", CALLBACK_SECRET]
    # The comment APIs' tokens are secrets too (they leave only in Authorization headers).
    for entry in webhook_secret({}, "http://127.0.0.1:1").values():
        secrets.extend(v for k, v in entry.items() if k == "api_token")
    secrets.append(base64.b64decode(values["TEAMS_WEBHOOK_SECRET"]).decode())  # the token's key bytes
    bodies = [json.dumps(p["body"]) for p in capture.posts]
    places = {
        "the functions' logs and metrics": logs,
        "stdout (demo output)": out.out,
        "stderr": out.err,
        "replies": json.dumps(replies),
        "post-back bodies": "\n".join(bodies),
    }
    assert MARK not in places["replies"] and len(replies) > 10
    assert {env["POWERTOOLS_LOG_LEVEL"] for env in stacks[0].environments.values()} == {"DEBUG"}
    assert '"level":"INFO"' in logs and "RelayFunction" in logs and "WorkerFunction" in logs  # really captured
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:12]}…) appears in {place}"
