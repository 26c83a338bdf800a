"""What every webhook source shares: the request pipeline behind POST /webhooks/{source}.

A source (one module under sources/) says how its vendor signs a request, where the sender,
the delivery id and the free text are in its payload, and, if its vendor has an API for it,
how to comment back. Everything else is here, the same for every source:

  verify -> JSON -> read the delivery -> find the job id -> cancel (once per delivery id)
  -> reply {jobId, state, outcome, message}, or 202 and the worker when the caller's deadline is short.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from omni_relay.deadline import Deadline
from omni_relay.dedupe import AlreadyInProgress, Deduplicator
from omni_relay.domain import RETRY_LATER, CancelOutcome, CancelRequest, JobState, Outcome, Requester
from omni_relay.errors import MalformedRequest, RelayError, UnsupportedMediaType
from omni_relay.handoff import CancelTask
from omni_relay.jobref import find_job_id
from omni_relay.messages import describe, pending_elsewhere
from omni_relay.request import InboundRequest, Reply
from omni_relay.service import CancelService

JSON = "application/json"
# Time kept back from the caller's deadline to comment on the issue and send the callback.
NOTIFY_RESERVE_S = 1.0


class SourceDisabled(RelayError):
    status = 404
    code = "source_not_enabled"


@dataclass(frozen=True)
class SourceConfig:
    """One source's entry in the webhooks secret: its signing secrets, and its API credentials if any."""

    secrets: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: str = "") -> str:
        value = self.values.get(key, default)
        return value.strip() if isinstance(value, str) else default


@dataclass(frozen=True)
class Outbound:
    """One HTTP call to a vendor's API (a comment on the issue the request came from)."""

    method: str
    url: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Delivery:
    """What a source reads from one verified request."""

    requester: Requester
    delivery_id: str = ""  # the vendor's id for this delivery; repeats are answered once
    texts: tuple[str, ...] = ()  # free text a person wrote, searched after the command word
    thread: Mapping[str, str] = field(default_factory=dict)  # where a comment goes back, if anywhere
    ignore: str = ""  # set for events the relay does not act on, saying why


class WebhookSource:
    """Base class of every source. A subclass sets the class attributes and implements verify and read."""

    name: ClassVar[str]
    title: ClassVar[str]
    deadline_s: ClassVar[float] = 10.0  # the caller's own timeout
    default_job_path: ClassVar[str] = ""  # JMESPath into the payload, tried before free text
    # False where the delivery itself is the command (a Teams @mention, a structured sender).
    needs_command_word: ClassVar[bool] = True

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        raise NotImplementedError

    def read(self, request: InboundRequest, payload: Mapping[str, Any], now: float) -> Delivery:
        raise NotImplementedError

    def comment(self, thread: Mapping[str, str], text: str, config: SourceConfig) -> Outbound | None:
        """The vendor API call that puts `text` on the issue/ticket/incident; None if there is none."""
        return None

    def render(self, status: int, body: dict[str, Any]) -> Reply:
        return Reply(status, body)


class WebhookPorts(Protocol):
    """What the pipeline needs from the outside world (the Runtime, or fakes in tests)."""

    service: CancelService
    dedupe: Deduplicator
    now: Callable[[], float]

    @property
    def command_word(self) -> str: ...

    def webhook_config(self, source: str) -> SourceConfig: ...

    def job_id_path(self, source: str) -> str: ...

    def sender_wait_s(self, requester: Requester) -> float: ...

    def webhook_budget_s(self, source: WebhookSource) -> float: ...

    def can_follow_up(self, source: WebhookSource, thread: Mapping[str, str]) -> bool: ...

    def hand_off(self, task: CancelTask) -> bool: ...

    def notify(self, source_name: str, thread: Mapping[str, str], outcome: CancelOutcome, text: str = "") -> None: ...


def handle_webhook(
    request: InboundRequest, source: WebhookSource, ports: WebhookPorts
) -> tuple[Reply, Delivery | None, CancelOutcome | None]:
    config = ports.webhook_config(source.name)
    source.verify(request, config, ports.now())
    if request.content_type != JSON:
        raise UnsupportedMediaType(f"{source.title} webhooks must be sent as {JSON}.")
    payload = parse_json(request.body)
    delivery = source.read(request, payload, ports.now())
    if delivery.ignore:
        return source.render(200, {"outcome": "ignored", "message": delivery.ignore}), delivery, None
    found = find_job(payload, delivery.texts, ports.job_id_path(source.name) or source.default_job_path, source, ports)
    if found is None:
        message = f"Nothing to do: no {ports.command_word} command in this event."
        return source.render(200, {"outcome": "ignored", "message": message}), delivery, None
    if not found:
        message = f"No Omni job id was found after {ports.command_word}: give a job UUID or an Omni job URL."
        return source.render(422, {"error": "no_job_id", "message": message}), delivery, None

    if wait := ports.sender_wait_s(delivery.requester):
        limited = CancelOutcome(found, Outcome.RATE_LIMITED, detail=f"may retry in {wait:.0f}s")
        reply = source.render(429, answer(limited))
        return Reply(reply.status, reply.body, {"Retry-After": str(math.ceil(wait))}), delivery, limited
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, ports.webhook_budget_s(source), wall=ports.now)

    def act() -> dict[str, Any]:
        outcome = ports.service.cancel(CancelRequest(found, delivery.requester), deadline)
        if outcome.outcome in RETRY_LATER and ports.can_follow_up(source, delivery.thread):
            task = CancelTask(
                found,
                delivery.requester,
                reply_to="",
                request_id=request.request_id,
                source=source.name,
                thread=dict(delivery.thread),
            )
            if ports.hand_off(task):
                return _stored(CancelOutcome(found, Outcome.PENDING, detail=f"handed off after: {outcome.detail}"))
        ports.notify(source.name, delivery.thread, outcome)
        return _stored(outcome)

    try:
        if delivery.delivery_id:
            done = ports.dedupe.once(f"webhook:{source.name}:{delivery.delivery_id}", act)
        else:
            done = act()
    except AlreadyInProgress:
        body = {"outcome": "in_progress", "message": "This delivery is already being handled."}
        return source.render(202, body), delivery, None
    outcome = CancelOutcome(found, Outcome(done["outcome"]), JobState.parse(done.get("state")), done["detail"])
    body = answer(outcome)
    if outcome.outcome is Outcome.PENDING and source.comment(delivery.thread, "", config) is None:
        body["message"] = pending_elsewhere(found)  # "I will post the result here" would not be true
    return source.render(status_of(outcome), body), delivery, outcome


def _stored(outcome: CancelOutcome) -> dict[str, Any]:
    return {**outcome.as_dict(), "detail": outcome.detail}


def status_of(outcome: CancelOutcome) -> int:
    if outcome.outcome is Outcome.PENDING:
        return 202
    if outcome.outcome in (Outcome.SENDER_NOT_ALLOWED, Outcome.NOT_CONFIGURED):
        return 403
    return 200  # the request was handled; how the cancel ended is in the body


def answer(outcome: CancelOutcome) -> dict[str, Any]:
    return {**outcome.as_dict(), "message": describe(outcome)}


def parse_json(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("The body must be a JSON object.")
    return payload


def find_job(
    payload: Mapping[str, Any], texts: Sequence[str], job_path: str, source: WebhookSource, ports: WebhookPorts
) -> str | None:
    """The job id: at the configured JMESPath (or the source's default), else in free text after the
    command word. None when nothing asked for a cancel; "" when a command had no job id."""
    if job_path:
        value = search(job_path, payload)
        if isinstance(value, str) and (job_id := find_job_id(value)):
            return job_id
    word = ports.command_word.lower()
    asked = not source.needs_command_word  # Teams' @mention, or a structured sender: the delivery is the command
    for text in texts:
        at = 0
        if source.needs_command_word:
            at = text.lower().find(word)
            if at < 0:
                continue
            asked, at = True, at + len(word)
        if job_id := find_job_id(text[at:]):
            return job_id
    return "" if asked else None


def search(expression: str, payload: Mapping[str, Any]) -> Any:
    import jmespath  # imported on the webhook path only
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, payload)
    except JMESPathError:
        return None


def dig(payload: Any, *path: str) -> Any:
    """payload[path[0]][path[1]]..., or None as soon as a step is missing or not an object."""
    for key in path:
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(key)
    return payload


def text(value: Any) -> str:
    """A payload value as a string ('' for anything that is not a string or a number)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""
