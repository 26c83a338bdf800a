"""The request pipeline behind POST /webhooks/{source}, the same for every source.

A source (one module under sources/, a WebhookSource from base.py) says how its vendor signs a
request, where the sender, the delivery id and the free text are in its payload, and, if its vendor
has an API for it, how to comment back. Everything else is here:

  verify -> JSON -> read the delivery -> find the job id -> cancel (once per signed body)
  -> reply {jobId, state, outcome, message, job}, or 202 and the worker when the caller's deadline is short.

`<command word> status <job>` looks at the job instead (read-only: Omni's cancel is not called).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from omni_relay import bounded_json
from omni_relay.cancelling import CancelPorts, cancel_or_hand_off, over_rate_limit
from omni_relay.deadline import Deadline
from omni_relay.dedupe import AlreadyInProgress, Deduplicator
from omni_relay.domain import CancelOutcome, CancelRequest, Outcome, ReplyTarget
from omni_relay.errors import MalformedRequest, UnsupportedMediaType
from omni_relay.jobref import find_job_id
from omni_relay.messages import RELAY_MARK, full_text, pending_elsewhere
from omni_relay.observability import logger
from omni_relay.request import Handled, InboundRequest, Reply
from omni_relay.sources.base import SourceConfig, WebhookSource

JSON = "application/json"
# Time kept back from the caller's deadline to comment on the issue and send the callback.
NOTIFY_RESERVE_S = 1.0
DEDUPE_TTL_S = 3600  # how long a signed body is remembered, at least


class WebhookPorts(CancelPorts, Protocol):
    """What the pipeline needs from the outside world (the Runtime, or fakes in tests)."""

    dedupe: Deduplicator
    now: Callable[[], float]

    @property
    def command_word(self) -> str: ...

    def webhook_config(self, source: str) -> SourceConfig: ...

    def job_id_path(self, source: str) -> str: ...

    def webhook_budget_s(self, source: WebhookSource) -> float: ...

    def can_follow_up(self, source: WebhookSource, thread: Mapping[str, str], config: SourceConfig) -> bool: ...

    def notify(
        self,
        source: WebhookSource,
        thread: Mapping[str, str],
        outcome: CancelOutcome,
        config: SourceConfig | None,
        text: str = "",
    ) -> None: ...


def handle_webhook(request: InboundRequest, source: WebhookSource, ports: WebhookPorts) -> Handled:
    config = ports.webhook_config(source.name)  # read once per request
    source.verify(request, config, ports.now())
    if request.content_type != JSON:
        raise UnsupportedMediaType(f"{source.title} webhooks must be sent as {JSON}.")
    payload = parse_json(request.body)
    delivery = source.receive(request, payload, ports.now())
    requester = delivery.requester
    if delivery.delivery_id:
        logger.append_keys(delivery_id=delivery.delivery_id[:100])  # the vendor's id, for support; not the key
    if ignored := delivery.ignore or own_comment(delivery.texts):
        return Handled(source.render(200, {"outcome": "ignored", "message": ignored}), requester)
    found = find_job(payload, delivery.texts, ports.job_id_path(source.name) or source.default_job_path, source, ports)
    if found is None:
        message = f"Nothing to do: no {ports.command_word} command in this event."
        return Handled(source.render(200, {"outcome": "ignored", "message": message}), requester)
    if not found.job_id:
        message = f"No Omni job id was found after {ports.command_word}: give a job UUID or an Omni job URL."
        return Handled(source.render(422, {"error": "no_job_id", "message": message}), requester)

    asked = CancelRequest(found.job_id, requester)
    if limited := over_rate_limit(ports, asked):
        reply = source.render(429, answer(limited, source))
        headers = {"Retry-After": str(math.ceil(limited.retry_after_s))}
        return Handled(Reply(reply.status, reply.body, headers), requester, limited)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.webhook_budget_s(source), wall=ports.now)
    follow_up = ports.can_follow_up(source, delivery.thread, config)

    def act() -> dict[str, Any]:
        reply_to = ReplyTarget(thread=delivery.thread) if follow_up else None
        if found.read_only:
            outcome = ports.service.status(asked, deadline)
        else:
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=reply_to, request_id=request.request_id)
        if outcome.outcome is not Outcome.PENDING:
            ports.notify(source, delivery.thread, outcome, config)
        return outcome.to_record()

    # Once per signed body, whatever the unsigned delivery-id header says (or whether it is there at all):
    # a captured delivery resent under any id is answered from the first run.
    # Remembered at least as long as the source's signed time keeps a delivery fresh: no window for a replay.
    signed = hashlib.sha256(request.body).hexdigest()
    remember_s = int(max(DEDUPE_TTL_S, source.max_age_s + 300))
    try:
        done = ports.dedupe.once(f"webhook:{source.name}:{signed}", act, ttl_s=remember_s)
    except AlreadyInProgress:
        body = {"outcome": "in_progress", "message": "This delivery is already being handled."}
        return Handled(source.render(202, body), requester)
    outcome = CancelOutcome.from_record(done)
    body = answer(outcome, source)
    if outcome.outcome is Outcome.PENDING and not source.can_comment(delivery.thread, config):
        body["message"] = pending_elsewhere(outcome.job_id)  # "I will post the result here" would not be true
    return Handled(source.render(status_of(outcome), body), requester, outcome)


def own_comment(texts: Sequence[str]) -> str:
    """Why a delivery is ignored when it is the relay's own comment (every one ends with RELAY_MARK)."""
    return "This is the relay's own comment, not a command." if any(RELAY_MARK in t for t in texts) else ""


# The relay's own refusals, answered 403 (Omni's own refusals are the outcome of a handled request).
REFUSED = frozenset({Outcome.SENDER_NOT_ALLOWED, Outcome.NOT_CONFIGURED, Outcome.NOT_OWNER, Outcome.IDENTITY_UNKNOWN})


def status_of(outcome: CancelOutcome) -> int:
    if outcome.outcome is Outcome.PENDING:
        return 202
    if outcome.outcome in REFUSED:
        return 403
    return 200  # the request was handled; how the cancel ended is in the body


def answer(outcome: CancelOutcome, source: WebhookSource) -> dict[str, Any]:
    """The reply's JSON, its message as the source shows it (a Teams reply is a message)."""
    return outcome.reported(full_text(outcome, source.literal))


def parse_json(body: bytes) -> Mapping[str, Any]:
    """The body as a JSON object, nested at most MAX_JSON_DEPTH levels (MalformedRequest otherwise)."""
    try:
        payload = bounded_json.loads(body)
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("The body must be a JSON object.")
    return payload


@dataclass(frozen=True)
class Ask:
    """What a delivery asks for: the job ("" when the command named none), and whether only to look."""

    job_id: str
    read_only: bool = False


STATUS_WORD = re.compile(r"\s*status\b", re.IGNORECASE)


def find_job(
    payload: Mapping[str, Any], texts: Sequence[str], job_path: str, source: WebhookSource, ports: WebhookPorts
) -> Ask | None:
    """The job id: at the configured JMESPath (or the source's default), else in free text after the
    command word ("<command word> status <job>" only looks). None when nothing asked for anything.
    The JMESPath applies only to a delivery that is a command: one whose text has the command word,
    or from a source whose deliveries are always commands (Teams' @mention, a structured sender)."""
    # Found case-insensitively in the text as written: lower() can change lengths ("İ"), and offsets with it.
    word = re.compile(re.escape(ports.command_word), re.IGNORECASE)
    commanded = not source.needs_command_word or any(word.search(said) for said in texts)
    if job_path and commanded:
        value = search(job_path, payload)
        if isinstance(value, str) and (job_id := find_job_id(value)):
            return Ask(job_id)
    asked: Ask | None = None if source.needs_command_word else Ask("")  # Teams' @mention: the delivery asks
    for text in texts:
        at = 0
        if source.needs_command_word:
            found = word.search(text)
            if found is None:
                continue
            at = found.end()
        status = STATUS_WORD.match(text, at)
        if status:
            at = status.end()
        asked = asked or Ask("", bool(status))
        if job_id := find_job_id(text[at:]):
            return Ask(job_id, bool(status))
    return asked


def search(expression: str, payload: Mapping[str, Any]) -> Any:
    import jmespath  # imported on the webhook path only
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, payload)
    except JMESPathError:
        return None
