"""SAM CLI itself against the local stack: `sam local invoke` and `sam local start-api` with the README's
command lines (local/cloud/sam_local.py) and the events `make events` writes (tools/signers/events.py), each
function in a container from the Lambda python3.12 base image (AWS's, or the stand-in of
local/cloud/sam_local_image.py), on the host's network (tests/sam_local/host_network.py says why SAM CLI
needs a shim for that). The local stack runs as `make local` runs it: fixed ports, its own worker.

What a user sees is asserted: a cancel answered inline by the function in the container (never
handed off where AWS would answer inline), a webhook's comment arriving, a worker's post-back
arriving, and a cancel handed off by a `sam local` relay finished by `make local`'s worker.
All SAM CLI runs go at once (each is mostly waiting on Docker), and each prints one line: what was
sent and what came back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3

from local.cloud.build import ROOT
from local.cloud.sam_local import CREDENTIALS, START_API_PORT, invoke_args, start_api_args
from local.cloud.stack import LocalStack, StackConfig, seed_jobs
from tools.send import as_slack_shows
from tools.signers.events import for_sam_local, slack_event, write_all
from tools.signers.slack import slash_command
from tools.signers.webhooks import delivery

SAM = [sys.executable, "-m", "tests.sam_local.host_network"]  # SAM CLI, its containers on the host's network
RUN_TIMEOUT_S = 180


def sam_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    return {**env, **CREDENTIALS, "SAM_CLI_TELEMETRY": "0", "PYTHONPATH": str(ROOT)}


@dataclass
class Invoked:
    what: str
    result: Any
    seconds: float
    output: str


def invoke(what: str, function: str, event: Path) -> Invoked:
    started = time.monotonic()
    args = [*SAM, *invoke_args(function, str(event))]
    run = subprocess.run(args, cwd=ROOT, env=sam_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)  # noqa: S603
    seconds = time.monotonic() - started
    remove_containers(run.stdout + run.stderr)
    results = [line for line in run.stdout.splitlines() if line.startswith("{")]
    result = json.loads(results[-1]) if results else None
    return Invoked(what, result, seconds, f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")


def remove_containers(output: str) -> None:
    """The containers a SAM CLI run started (it names them), should it have left any behind."""
    import re

    ids = re.findall(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})", output)
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)  # noqa: S603 S607


def said(result: Any) -> str:
    """What the caller sees of a function's result: Slack's words, or a webhook's JSON reply."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return f"no result: {result!r}"
    body = json.loads(result.get("body") or "{}")
    text = as_slack_shows(result["statusCode"], body) if "blocks" in body or "text" in body else json.dumps(body)
    return f"{result['statusCode']} {' '.join(text.split())[:150]}"


def show(line: str) -> None:
    print(f"\n  sam local | {line}", end="", flush=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    config = StackConfig.from_env()  # as `make local`: ports 3000, 5005, 8097-8099
    with LocalStack(config) as running:
        seed_jobs(running)
        yield running


@pytest.fixture(scope="module")
def events(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make events` writes with `make local` running: each cancel names its own running job."""
    assert stack.omni is not None
    return write_all(tmp_path_factory.mktemp("events"), emulator_url=stack.omni.base_url.removesuffix("/api"))[0].parent


def job_in(event: Path) -> str:
    """The job an event's body asks to cancel (its headers and request context hold other ids)."""
    import base64
    import re
    from urllib.parse import unquote_plus

    data = json.loads(event.read_text())
    body = base64.b64decode(data["body"]).decode() if data.get("isBase64Encoded") else data["body"]
    return re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", unquote_plus(body))[0]


@pytest.fixture(scope="module")
def runs(stack: LocalStack, events: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[Any]]:
    """Every SAM CLI run of the tier, started together."""
    assert stack.omni is not None
    key = stack.config.omni_api_key
    own = tmp_path_factory.mktemp("own-events")

    # A command that arrived 10 s before the function ran (a plausible arrival, the budget spent):
    # handed off, as in AWS, and finished by make local's worker.
    late_job = stack.omni.create_job(key=key, pinned="QUEUED")
    late = slack_event(
        "/slack/commands", late_job, response_url="http://host.docker.internal:8098/slack/late", timestamp=None
    )
    late["requestContext"]["timeEpoch"] = int(time.time() * 1000) - 10_000
    (own / "late.json").write_text(json.dumps(late))

    # The worker's own event: one task, as the relay queues it, in the SQS event Lambda hands the worker.
    worker_job = stack.omni.create_job(key=key, pinned="QUEUED")
    task = {
        "job_id": worker_job,
        "requester": {"source": "slack", "user_id": "U0LOCAL01", "scope": "C0LOCAL01", "workspace": "T0LOCAL01"},
        "reply": {"url": "http://host.docker.internal:8098/worker/reply", "thread": {}},
        "request_id": str(uuid.uuid4()),
    }
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "sam-local",
        "body": json.dumps(task),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": stack.resource("TaskQueue", "Arn"),
        "awsRegion": "us-east-1",
    }
    (own / "sqs.json").write_text(json.dumps({"Records": [record]}))

    pool = ThreadPoolExecutor(max_workers=6)
    started = {
        "help": pool.submit(invoke, "help", "RelayFunction", events / "slack_command_help.json"),
        "cancel": pool.submit(invoke, "cancel", "RelayFunction", events / "slack_command_cancel.json"),
        "webhook": pool.submit(invoke, "webhook github", "RelayFunction", events / "webhook_github.json"),
        "worker": pool.submit(invoke, "worker SQS event", "WorkerFunction", own / "sqs.json"),
        "late": pool.submit(invoke, "cancel arrived 10 s ago", "RelayFunction", own / "late.json"),
        "api": pool.submit(start_api, stack),
    }
    pool.shutdown(wait=False)
    return {**started, "jobs": _done({"late": late_job, "worker": worker_job})}


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def start_api(stack: LocalStack) -> dict[str, Any]:
    """`sam local start-api` beside `make local` (which holds 3000), then a signed Slack command and a
    signed GitHub webhook sent to it, each cancelling its own running job."""
    assert stack.omni is not None and stack.capture is not None
    key = stack.config.omni_api_key
    url = f"http://127.0.0.1:{START_API_PORT}"
    started = time.monotonic()
    api = subprocess.Popen(  # noqa: S603
        [*SAM, *start_api_args()], cwd=ROOT, env=sam_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    try:
        assert api.stdout is not None
        for line in api.stdout:
            output.append(line)
            if "Running on" in line or "Press CTRL+C" in line:
                break
        up = time.monotonic() - started
        import threading

        threading.Thread(target=lambda: output.extend(api.stdout or []), daemon=True).start()
        answers: dict[str, Any] = {"up_s": up, "output": output}
        slack_job = stack.omni.create_job(key=key, pinned="QUEUED")
        headers, body = slash_command(slack_job, response_url="http://host.docker.internal:8098/slack/api")
        t0 = time.monotonic()
        reply = urllib3.request("POST", f"{url}/slack/commands", headers=headers, body=body, timeout=90, retries=False)
        answers["slack"] = (slack_job, reply.status, json.loads(reply.data or b"{}"), time.monotonic() - t0)
        hook_job = stack.omni.create_job(key=key, pinned="QUEUED")
        headers, body = delivery("github", hook_job)
        t0 = time.monotonic()
        reply = urllib3.request("POST", f"{url}/webhooks/github", headers=headers, body=body, timeout=90, retries=False)
        answers["webhook"] = (hook_job, reply.status, json.loads(reply.data or b"{}"), time.monotonic() - t0)
        return answers
    finally:
        api.send_signal(signal.SIGINT)  # Ctrl-C: SAM CLI stops its warm containers
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
        remove_containers("".join(output))


def test_help(runs: dict[str, Future[Any]]):
    run = runs["help"].result(timeout=RUN_TIMEOUT_S)
    show(f"invoke RelayFunction -e slack_command_help.json -> {said(run.result)}  ({run.seconds:.1f} s)")
    assert run.result and run.result["statusCode"] == 200, run.output
    assert "Usage: /omni-cancel" in run.result["body"], run.output


def test_a_cancel_made_by_make_events_is_answered_inline(runs: dict[str, Future[Any]], stack: LocalStack, events: Path):
    """The job `make events` named is executing: Omni accepts the cancel and stops it after its
    current step, which the relay says inline; make local's worker follows it and posts when it stopped."""
    run = runs["cancel"].result(timeout=RUN_TIMEOUT_S)
    job = job_in(events / "slack_command_cancel.json")
    show(f"invoke RelayFunction -e slack_command_cancel.json -> {said(run.result)}  ({run.seconds:.1f} s)")
    assert run.result and run.result["statusCode"] == 200, run.output
    assert "Omni is slow to answer" not in run.result["body"], f"handed off where AWS answers inline: {run.output}"
    assert "Cancel requested" in run.result["body"] or "Cancelled" in run.result["body"], run.output
    follow_up = _posts(stack, "/slack/slack_command_cancel", job, timeout=40)
    shown = " ".join(as_slack_shows(200, follow_up[-1]["body"]).split())[:120] if follow_up else "nothing"
    show(f"  make local's worker followed it and posted to host.docker.internal:8098: {shown}")
    assert follow_up, f"no follow-up post: {_seen(stack)}\n{stack.function_logs()[-3000:]}"
    assert stack.omni is not None and stack.omni.job_state(job) == "CANCELLED"


def test_a_webhook_is_answered_inline_and_comments(runs: dict[str, Future[Any]], stack: LocalStack, events: Path):
    run = runs["webhook"].result(timeout=RUN_TIMEOUT_S)
    job = job_in(events / "webhook_github.json")
    show(f"invoke RelayFunction -e webhook_github.json -> {said(run.result)}  ({run.seconds:.1f} s)")
    assert run.result and run.result["statusCode"] == 200, run.output
    body = json.loads(run.result["body"])
    assert body.get("outcome") in ("cancelled", "stopping"), f"not answered inline: {body}\n{run.output}"
    comments = _posts(stack, "/github/", job)
    show(f"  the relay's comment on the issue arrived: {bool(comments)}")
    assert comments, f"the relay's comment did not reach the capture server: {_seen(stack)}\n{run.output}"


def test_the_worker_finishes_an_sqs_task_and_posts_back(runs: dict[str, Future[Any]], stack: LocalStack):
    run = runs["worker"].result(timeout=RUN_TIMEOUT_S)
    job = runs["jobs"].result()["worker"]
    show(f"invoke WorkerFunction -e <an SQS event, one task> -> {json.dumps(run.result)}  ({run.seconds:.1f} s)")
    assert run.result == {"batchItemFailures": []}, run.output
    assert stack.omni is not None and stack.omni.job_state(job) == "CANCELLED"
    posts = _posts(stack, "/worker/reply", job)
    show(f"  the worker's post-back arrived: {bool(posts)}")
    assert posts, run.output


def test_a_cancel_handed_off_by_sam_local_is_finished_by_make_locals_worker(
    runs: dict[str, Future[Any]], stack: LocalStack
):
    run = runs["late"].result(timeout=RUN_TIMEOUT_S)
    job = runs["jobs"].result()["late"]
    show(f"invoke RelayFunction -e <a cancel that arrived 10 s ago> -> {said(run.result)}  ({run.seconds:.1f} s)")
    assert run.result and "I will post the result here" in run.result["body"], run.output
    posts = _posts(stack, "/slack/late", job, timeout=30)
    show(f"  make local's worker posted the result to host.docker.internal:8098: {bool(posts)}")
    assert posts, f"no post-back; the stack's function logs:\n{stack.function_logs()[-3000:]}"


def test_start_api_beside_make_local_answers_inline(runs: dict[str, Future[Any]], stack: LocalStack):
    answers = runs["api"].result(timeout=RUN_TIMEOUT_S)
    show(f"start-api on 127.0.0.1:{START_API_PORT} (make local holds 3000): up in {answers['up_s']:.1f} s")
    job, status, payload, seconds = answers["slack"]
    show(f"  POST /slack/commands (signed) -> {status} {' '.join(as_slack_shows(status, payload).split())[:150]}"
         f"  ({seconds:.1f} s)")  # fmt: skip
    assert status == 200 and "Cancelled Omni AI job" in json.dumps(payload), "".join(answers["output"])[-3000:]
    assert stack.omni is not None and stack.omni.job_state(job) == "CANCELLED"
    job, status, payload, seconds = answers["webhook"]
    show(f"  POST /webhooks/github (signed) -> {status} {json.dumps(payload)[:150]}  ({seconds:.1f} s)")
    assert status == 200 and payload.get("outcome") == "cancelled", "".join(answers["output"])[-3000:]
    assert stack.omni.job_state(job) == "CANCELLED"


def _seen(stack: LocalStack) -> str:
    assert stack.capture is not None
    return "posts seen: " + "; ".join(f"{p['path']} {p['raw'][:160]!r}" for p in stack.capture.posts)


def _posts(stack: LocalStack, path: str, job: str, timeout: float = 15) -> list[dict[str, Any]]:
    assert stack.capture is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [p for p in stack.capture.posts if p["path"].startswith(path) and job in p["raw"].decode()]
        if found:
            return found
        time.sleep(0.2)
    return []


def test_the_events_written_for_sam_local_carry_no_arrival_time(events: Path):
    """(Checked without Docker too, in tests/unit/test_sam_local_events.py.)"""
    for path in events.glob("*.json"):
        event = json.loads(path.read_text())
        assert "timeEpoch" not in event["requestContext"], path.name
        assert for_sam_local(event) == event
