"""Real-shaped webhook deliveries, signed the way each vendor signs them: for the demo, the tests,
`make events` and `python -m tools.send --webhook <source>`.

Payloads follow each vendor's documented examples, trimmed to the fields a relay reads plus enough
of the rest to look like the real thing. Secrets come from <SOURCE>_WEBHOOK_SECRET, or the local
dev defaults below (never used outside the local stack).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

SOURCES = ("github", "jira", "zendesk", "pagerduty", "linear", "teams", "standard", "shared")


def secrets_for(tag: str) -> dict[str, str]:
    """A secret per source in the form its vendor issues: Teams shows a base64 security token,
    Standard Webhooks secrets are whsec_<base64>; the others are plain strings. `tag` tells sets apart."""
    plain = {s: f"{tag}-{s}-webhook-secret-0123456789" for s in SOURCES}
    plain["teams"] = base64.b64encode(f"{tag}-teams-security-token".encode()).decode()
    plain["standard"] = "whsec_" + base64.b64encode(f"{tag}-standard-webhooks-key".encode()).decode()
    return plain


DEV_SECRETS = secrets_for("local-dev")
# Header tokens are a lower level of trust than signing secrets, and never the same value.
DEV_TOKENS = {"jira": "local-dev-jira-automation-token-0123456789"}


def secret_entry(source: str, secret: str) -> dict[str, list[str]]:
    """A source's keys as its entry in the webhooks secret holds them: signing secrets, header tokens, or both."""
    if source == "shared":
        return {"tokens": [secret]}
    if source in DEV_TOKENS:
        return {"secrets": [secret], "tokens": [DEV_TOKENS[source]]}
    return {"secrets": [secret]}


def dev_secret(source: str) -> str:
    """<SOURCE>_WEBHOOK_SECRET from the environment, else the local dev default."""
    return os.environ.get(f"{source.upper()}_WEBHOOK_SECRET") or DEV_SECRETS[source]


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def sign(source: str, body: bytes, secret: str, *, now: int, delivery_id: str) -> dict[str, str]:
    """The headers `source` adds to a delivery of `body`."""
    key = secret.encode()
    if source == "github":
        return {
            "X-Hub-Signature-256": "sha256=" + _hmac(key, body).hex(),
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": delivery_id,
            "User-Agent": "GitHub-Hookshot/local",
        }
    if source == "jira":
        return {"X-Hub-Signature": "sha256=" + _hmac(key, body).hex(), "X-Atlassian-Webhook-Identifier": delivery_id}
    if source == "zendesk":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {
            "X-Zendesk-Webhook-Signature": base64.b64encode(_hmac(key, stamp.encode() + body)).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Invocation-Id": delivery_id,
        }
    if source == "pagerduty":
        return {"X-PagerDuty-Signature": "v1=" + _hmac(key, body).hex(), "X-Webhook-Id": delivery_id}
    if source == "linear":
        return {"Linear-Signature": _hmac(key, body).hex(), "Linear-Delivery": delivery_id, "Linear-Event": "Comment"}
    if source == "teams":
        return {"Authorization": "HMAC " + base64.b64encode(_hmac(base64.b64decode(secret), body)).decode()}
    if source == "standard":
        signing_key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{delivery_id}.{now}.".encode() + body
        return {
            "webhook-id": delivery_id,
            "webhook-timestamp": str(now),
            "webhook-signature": "v1," + base64.b64encode(_hmac(signing_key, signed)).decode(),
        }
    if source == "shared":
        return {"Authorization": f"Bearer {secret}", "X-Request-Id": delivery_id}
    raise ValueError(f"unknown source {source}")


def payload(source: str, job_id: str, *, user: str = "", scope: str = "", text: str = "", now: int = 0) -> dict:
    """A real-shaped delivery asking to cancel `job_id` (text: what the person wrote, if it is free text)."""
    said = text or f"/omni-cancel {job_id}"
    if source == "github":
        repo = scope or "acme/data-platform"
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {
            "action": "created",
            "issue": {
                "number": 42,
                "title": "Runaway Omni AI job",
                "state": "open",
                "user": {"login": "octocat"},
                "created_at": created,
            },
            "comment": {
                "id": 1,
                "body": said,
                "user": {"login": user or "octocat", "type": "User"},
                "author_association": "MEMBER",
                "created_at": created,
            },
            "repository": {"full_name": repo, "name": repo.split("/")[-1], "private": True},
            "sender": {"login": user or "octocat", "id": 1, "type": "User"},
        }
    if source == "jira":
        return {
            "timestamp": now * 1000,
            "webhookEvent": "comment_created",
            "comment": {
                "id": "10000",
                "body": said,
                "author": {
                    "accountId": user or "5b10a2844c20165700ede21g",
                    "accountType": "atlassian",
                    "displayName": "Ada Admin",
                },
            },
            "issue": {
                "id": "10002",
                "key": "DATA-7",
                "fields": {"summary": "Omni job stuck", "project": {"key": scope or "DATA", "name": "Data"}},
            },
        }
    if source == "zendesk":
        return {
            "type": "zen:event-type:ticket.comment_added",
            "account_id": 22129848,
            "id": str(uuid.uuid4()),
            "subject": "zen:ticket:5158",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "zendesk_event_version": "2022-11-06",
            "detail": {"id": "5158", "brand_id": scope or "360002470971", "subject": "Dashboard never loads"},
            "event": {
                "comment": {
                    "id": "1",
                    "body": said,
                    "is_public": False,
                    "author": {"id": user or "8447388090494", "is_staff": True, "name": "Agent Kim"},
                }
            },
        }
    if source == "pagerduty":
        return {
            "event": {
                "id": "01DEN2LGTG8ZDQKFUAHWR8TM4P",
                "event_type": "incident.annotated",
                "resource_type": "incident",
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "agent": {"id": user or "PLH1HKV", "type": "user_reference", "summary": "Tenex Engineer"},
                "data": {
                    "incident": {
                        "id": "PGR0VU2",
                        "type": "incident_reference",
                        "summary": "Omni warehouse load",
                        "service": {"id": scope or "PF9KMXH", "type": "service_reference"},
                    },
                    "id": "P0XZ3XT",
                    "content": said,
                    "type": "incident_note",
                },
            }
        }
    if source == "linear":
        return {
            "action": "create",
            "type": "Comment",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "data": {
                "id": str(uuid.uuid4()),
                "body": said,
                "issueId": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
                "issue": {
                    "id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
                    "title": "Omni job runs away",
                    "teamId": scope or "72b2a2dc-6f4f-4423-9d34-24b5bd10634a",
                },
                "userId": user or "ba6c3d23-2a4c-4a4b-8c0f-0b3f7cd2a1f0",
            },
            "actor": {"id": user or "ba6c3d23-2a4c-4a4b-8c0f-0b3f7cd2a1f0", "name": "Lin Ear", "type": "user"},
            "url": "https://linear.app/acme/issue/DATA-12#comment-1",
            "organizationId": "e6c5a4b2-0000-4000-8000-000000000001",
            "webhookTimestamp": now * 1000,
            "webhookId": str(uuid.uuid4()),
        }
    if source == "teams":
        return {
            "type": "message",
            "id": str(int(now * 1000)),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
            "serviceUrl": "https://smba.trafficmanager.net/amer/",
            "channelId": "msteams",
            "from": {
                "id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB",
                "name": "Mona Teams",
                "aadObjectId": user or "6b6cb5d2-b3c9-4aa4-a1ad-3a0e3f0a9c11",
            },
            "conversation": {"isGroup": True, "id": "19:local@thread.tacv2;messageid=1", "name": None},
            "recipient": {"id": "28:omni-cancel-local", "name": "Omni Cancel"},  # the outgoing webhook itself
            "text": f"<at>Omni Cancel</at> {text or job_id}",
            "channelData": {
                "teamsChannelId": "19:local@thread.tacv2",
                "teamsTeamId": "19:team@thread.tacv2",
                "channel": {"id": "19:local@thread.tacv2"},
                "team": {"id": "19:team@thread.tacv2"},
                "tenant": {"id": scope or "72f988bf-86f1-41af-91ab-2d7cd011db47"},
            },
        }
    if source == "standard":
        return {"jobId": job_id, "requestedBy": user or "runbook-bot", "source": scope or "runbooks"}
    if source == "shared":
        return {
            "alert": {
                "alertId": str(uuid.uuid4()),
                "message": "Runaway Omni job",
                "description": said,
                "username": user or "oncall@acme.example",
                "details": {},
            },
            "integrationName": scope or "Opsgenie",
            "action": "Create",
        }
    raise ValueError(f"unknown source {source}")


# A repository's URL fields (api.github.com/repos/<repo>/<name>), as every GitHub delivery carries them.
_GITHUB_REPO_URLS = [
    "forks",
    "keys",
    "collaborators",
    "teams",
    "hooks",
    "issue_events",
    "events",
    "assignees",
    "branches",
    "tags",
    "blobs",
    "git_tags",
    "git_refs",
    "trees",
    "statuses",
    "languages",
    "stargazers",
    "contributors",
    "subscribers",
    "subscription",
    "commits",
    "git_commits",
    "comments",
    "issue_comment",
    "contents",
    "compare",
    "merges",
    "archive",
    "downloads",
    "issues",
    "pulls",
    "milestones",
    "notifications",
    "labels",
    "releases",
    "deployments",
]


_GITHUB_USER_URLS = [
    "followers",
    "following",
    "gists",
    "starred",
    "subscriptions",
    "organizations",
    "repos",
    "events",
    "received_events",
]


def github_comment_on_a_long_issue(job_id: str, *, total_bytes: int = 73_797, now: int | None = None) -> dict[str, Any]:
    """A GitHub issue_comment delivery of `total_bytes` bytes, as GitHub sends one for a comment on an issue
    whose description is a pasted log (some 65,000 characters of it here): the comment asks to cancel `job_id`."""
    body = payload("github", job_id, now=int(time.time()) if now is None else now)
    repo = body["repository"]["full_name"]
    api = f"https://api.github.com/repos/{repo}"
    body["repository"].update({f"{name}_url": f"{api}/{name}" for name in _GITHUB_REPO_URLS})
    body["repository"].update({"url": api, "html_url": f"https://github.com/{repo}", "default_branch": "main"})
    body["repository"]["owner"] = {"login": repo.split("/")[0], "type": "Organization"}
    for user in (body["issue"]["user"], body["comment"]["user"], body["sender"], body["repository"]["owner"]):
        login, users = user["login"], "https://api.github.com/users"
        user.update({f"{name}_url": f"{users}/{login}/{name}" for name in _GITHUB_USER_URLS})
        user.update({"url": f"{users}/{login}", "html_url": f"https://github.com/{login}", "site_admin": False})
        user["avatar_url"] = "https://avatars.githubusercontent.com/u/583231?v=4"
    for item, path in ((body["issue"], "issues/42"), (body["comment"], "issues/comments/1")):
        item.update({"url": f"{api}/{path}", "html_url": f"https://github.com/{repo}/{path}", "node_id": "IC_kwDOA"})
        item["reactions"] = {"url": f"{api}/{path}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
                             "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}  # fmt: skip
    body["issue"].update(
        {"comments_url": f"{api}/issues/42/comments", "labels_url": f"{api}/issues/42/labels{{/name}}"}
    )
    body["issue"].update({"labels": [], "assignees": [], "locked": False, "author_association": "MEMBER"})
    line = "2025-01-15T10:00:12.000Z ERROR warehouse load failed: timeout after 30000 ms (attempt 3 of 5)\n"
    body["issue"]["body"] = ""
    room = total_bytes - len(json.dumps(body).encode())
    log = line * (room // len(json.dumps(line)[1:-1]) + 1)
    while len(json.dumps({**body, "issue": {**body["issue"], "body": log}}).encode()) > total_bytes:
        log = log[: -max(1, (len(json.dumps({**body, "issue": {**body["issue"], "body": log}})) - total_bytes) // 2)]
    body["issue"]["body"] = log
    return body


def delivery(
    source: str,
    job_id: str,
    *,
    secret: str | None = None,
    now: int | None = None,
    delivery_id: str | None = None,
    body: dict[str, Any] | None = None,
    raw_body: bytes | None = None,
    **who: str,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of one signed delivery, as the vendor sends it (`raw_body`: exactly these bytes)."""
    now = int(time.time()) if now is None else now
    raw = raw_body if raw_body is not None else b""
    if raw_body is None:
        raw = json.dumps(body if body is not None else payload(source, job_id, now=now, **who)).encode()
    ident = delivery_id or (f"msg_{uuid.uuid4().hex}" if source == "standard" else str(uuid.uuid4()))
    headers = {
        "Content-Type": "application/json",
        **sign(source, raw, secret or dev_secret(source), now=now, delivery_id=ident),
    }
    return headers, raw
