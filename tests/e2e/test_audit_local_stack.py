"""Who stopped my job, over the template-driven local stack: the relay and the worker in their own
processes, under the IAM the template gives them, record every decision in the AuditTable the
template declares; the worker tells the owner through the Slack Web API stand-in; `status` and
`history` read the records back; and the Logs Insights queries of docs/audit.md run over the log lines
the functions wrote."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.cloud.stack import LocalStack
from tests.e2e import logs_insights
from tests.e2e.helpers import stack_config
from tools.send import as_slack_shows, post_command

AUDIT_PAGE = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
ALICE, BOB, MALLORY = "U0ALICE01", "U0BOB0001", "U0MALLORY"
EXAMPLE_JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config(params={"SlackAllowedUsers": f"{ALICE},{BOB}"})) as running:
        assert running.omni is not None and running.slack_api is not None
        running.slack_api.add_user(ALICE, "alice@acme.com", "Alice")
        running.slack_api.add_user(BOB, "bob@acme.com", "Bob")
        running.omni.add_user("u-alice", "alice@acme.com", "Alice")
        yield running


def alices_job(stack: LocalStack) -> str:
    assert stack.omni is not None
    return stack.omni.create_job(owner="u-alice", pinned="QUEUED", prompt="Churn by cohort, all of 2019-2026")


def until(check: Any, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if found := check():
            return found
        time.sleep(0.1)
    return check()


def readme_queries() -> list[str]:
    return re.findall(r"```logsinsights\n(.*?)```", AUDIT_PAGE.read_text(), re.S)


def test_who_stopped_my_job_end_to_end(stack: LocalStack, capsys: pytest.CaptureFixture[str]):
    assert stack.slack_api is not None and stack.omni is not None
    job = alices_job(stack)

    # Bob cancels Alice's job with a reason: his answer first, the owner's DM from the worker after.
    status, reply = post_command(stack.url, f"{job} because it scans 4 TB", user_id=BOB)
    shown = as_slack_shows(status, reply)
    assert "Cancelled Omni AI job" in shown and "Reason: because it scans 4 TB" in shown
    [dm] = until(lambda: stack.slack_api.messages_to(ALICE))
    assert f"was cancelled by <@{BOB}> from <#C0LOCAL01>" in dm["blocks"][0]["text"]["text"]
    assert "Reason: because it scans 4 TB" in str(dm["blocks"])

    # Alice asks: status names Bob, not the key's creator.
    status, reply = post_command(stack.url, f"status {job}", user_id=ALICE)
    text = reply["blocks"][0]["text"]["text"]
    assert "It was cancelled" in text and f"by <@{BOB}> from <#C0LOCAL01>" in text and "Omni user" not in text

    # Alice cancels her own job: no DM to herself.
    own = alices_job(stack)
    post_command(stack.url, f"{own} done with it", user_id=ALICE)
    assert until(lambda: '"outcome": "self"' in stack.function_logs() or '"outcome":"self"' in stack.function_logs())
    assert len(stack.slack_api.messages_to(ALICE)) == 1

    # Mallory is not on the allow-list: refused, and recorded.
    post_command(stack.url, job, user_id=MALLORY)

    # Bob's history: his own requests only, newest first.
    status, reply = post_command(stack.url, "history", user_id=BOB)
    history = reply["blocks"][0]["text"]["text"]
    assert "The last decision you may see" in history and "cancelled" in history and "done with it" not in history

    # The records, in the template's table.
    table = stack.resource("AuditTable")
    items = stack.aws("dynamodb").query(
        TableName=table, KeyConditionExpression="job_id = :j", ExpressionAttributeValues={":j": {"S": job}}
    )["Items"]
    assert sorted(i["principal"]["S"] for i in items) == sorted(
        ["slack:T0LOCAL01:U0BOB0001", "slack:T0LOCAL01:U0ALICE01", "slack:T0LOCAL01:U0MALLORY"]
    )
    assert all(int(i["expires"]["N"]) > time.time() + 89 * 86400 for i in items)

    # docs/audit.md's Logs Insights queries over the functions' log lines.
    rows = logs_insights.events(stack.function_logs())
    who, by_person, refusals = readme_queries()
    [cancel] = logs_insights.run(who.replace(EXAMPLE_JOB, job), rows)
    assert cancel["audit.requester.principal"] == "slack:T0LOCAL01:U0BOB0001"
    assert (cancel["audit.reason"], cancel["audit.where"], cancel["audit.by"]) == (
        "because it scans 4 TB",
        "#C0LOCAL01",
        "relay",
    )
    counts = {r["audit.requester.principal"]: r["cancels"] for r in logs_insights.run(by_person, rows)}
    assert counts["slack:T0LOCAL01:U0BOB0001"] >= 1 and counts["slack:T0LOCAL01:U0ALICE01"] >= 1
    assert "slack:T0LOCAL01:U0MALLORY" not in counts
    refused = logs_insights.run(refusals, rows)
    assert {"audit.decision": "sender_not_allowed", "audit.requester.source": "slack", "refusals": 1} in refused
    with capsys.disabled():
        print(f"\nHISTORY (as Bob reads it):\n{history}\nOWNER_DM (as Alice reads it):\n{dm['text']}\n{dm['blocks']}")
