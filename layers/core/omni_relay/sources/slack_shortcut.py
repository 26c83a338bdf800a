"""The "Cancel Omni job" message shortcut, and the dispatch of interactions that are not the
relay's message buttons (shortcuts, unfurl cards' buttons).

A message shortcut (type message_action) carries the message it was invoked on; the relay finds the
Omni jobs it names (message_jobs.py) and answers the person ephemerally through the payload's
response_url (Slack shows nothing of a shortcut's HTTP reply), one row per job, each row what
`/omni-cancel status <job>` answers: the same use case, the same rules for who may see what. With
several jobs, a row's buttons answer in a message of their own, so the list stays for the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Requester
from omni_relay.domain.message_jobs import jobs_in_message
from omni_relay.domain.model import CancelRequest, as_mapping
from omni_relay.errors import AlreadyInProgress, MalformedRequest
from omni_relay.presentation.slack_blocks import CANCEL_ACTION, CHECK_ACTION, button, escape, render
from omni_relay.sources import bounded_json, slack_unfurl
from omni_relay.sources.request import Handled, InboundRequest, Reply
from omni_relay.sources.slack_unfurl import HERE_CANCEL, HERE_CHECK, UnfurlPorts, requester_of
from omni_relay.usecases.audit import where_asked
from omni_relay.usecases.cancelling import look, over_rate_limit

CALLBACK_ID = "omni_cancel_from_message"  # the shortcut's callback_id in the app manifest
MAX_JOBS = 5  # rows per answer: each is a status read of Omni's 60 a minute
ROW_MIN_S = 0.3  # a row's status is read only with this much of Slack's deadline left


def handle_other(form: Mapping[str, str], request: InboundRequest, ports: UnfurlPorts) -> Handled:
    """A verified interaction that is no click on the relay's message buttons."""
    try:
        payload = bounded_json.loads(form.get("payload", ""))
    except ValueError:
        raise MalformedRequest("The interaction payload is not JSON.") from None
    if not isinstance(payload, dict):
        return Handled(Reply(200, {}))
    if payload.get("type") == "message_action" and payload.get("callback_id") == CALLBACK_ID:
        return handle_shortcut(payload, request, ports)
    actions = payload.get("actions")
    ours = isinstance(actions, list) and any(
        isinstance(a, dict) and a.get("action_id") in (HERE_CANCEL, HERE_CHECK) for a in actions
    )
    if payload.get("type") == "block_actions" and ours:
        return slack_unfurl.handle_action(payload, request, ports)
    return Handled(Reply(200, {}))


def handle_shortcut(payload: Mapping[str, Any], request: InboundRequest, ports: UnfurlPorts) -> Handled:
    requester = requester_of(payload)
    response_url = str(payload.get("response_url") or "")
    if requester is None or not response_url:
        raise MalformedRequest("The shortcut has no user, workspace or response_url.")
    message = as_mapping(payload.get("message"))
    jobs = jobs_in_message(message, ports.omni_host)
    if not jobs:
        ports.notifier.post(response_url, no_job(ports.omni_host))
        return Handled(Reply(200, {}), requester)
    if limited := over_rate_limit(
        ports, CancelRequest(jobs[0], requester, where=where_asked(requester)), action="status"
    ):
        ports.notifier.post(response_url, render(limited))
        return Handled(Reply(200, {}), requester, limited)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.slack_budget_s, wall=ports.now)

    def act() -> dict[str, Any]:
        ports.notifier.post(response_url, answer(jobs, requester, ports, deadline))
        return {"jobs": jobs}

    # Slack resends an interaction it did not see acknowledged: answer once per invocation.
    key = f"slack-shortcut:{requester.principal}:{payload.get('trigger_id') or payload.get('action_ts') or ''}"
    with contextlib.suppress(AlreadyInProgress):  # a concurrent resend: the first one answers
        ports.dedupe.once(key, act)
    return Handled(Reply(200, {}), requester)


def answer(jobs: list[str], requester: Requester, ports: UnfurlPorts, deadline: Deadline) -> dict[str, Any]:
    """One job: the reply of `/omni-cancel status <job>`. Several: a row for each, the same reply's blocks."""
    if len(jobs) == 1:
        return render(look(ports, asked(jobs[0], requester), deadline, request_id=""), requester=requester)
    shown = jobs[:MAX_JOBS]
    head = f"{len(jobs)} Omni jobs in that message" + (f"; the first {MAX_JOBS}:" if len(jobs) > MAX_JOBS else ":")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    for job in shown:
        blocks.append({"type": "divider"})
        if deadline.remaining() < ROW_MIN_S:
            blocks += late_row(job)
            continue
        row = render(look(ports, asked(job, requester), deadline, request_id=""), requester=requester)["blocks"]
        blocks += [kept(block) for block in row]
    return {"response_type": "ephemeral", "text": head, "blocks": blocks}


def asked(job: str, requester: Requester) -> CancelRequest:
    """A look at `job` from the shortcut, recorded as a status answered (audit.py)."""
    return CancelRequest(job, requester, where=where_asked(requester))


def kept(block: dict[str, Any]) -> dict[str, Any]:
    """A row's buttons answer in a message of their own, so that the list stays for the other jobs."""
    if block.get("type") != "actions":
        return block
    here = {CANCEL_ACTION: HERE_CANCEL, CHECK_ACTION: HERE_CHECK}
    elements = [{**e, "action_id": here.get(e.get("action_id", ""), e.get("action_id"))} for e in block["elements"]]
    return {**block, "elements": elements}


def late_row(job: str) -> list[dict[str, Any]]:
    """A job there was no time left to look at within Slack's deadline."""
    text = f"Job `{escape(job)}`: not checked yet (Slack allows 3 seconds). Press *Check again*."
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [button("Check again", HERE_CHECK, job)]},
    ]


def no_job(omni_host: str) -> dict[str, Any]:
    where = f" or a link to a job on {escape(omni_host)}" if omni_host else ""
    text = f"I found no Omni job in that message: it needs a job id (a UUID){where}. `/omni-cancel help` says more."
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    return {"response_type": "ephemeral", "text": text, "blocks": [section]}
