"""The request pipeline behind POST /webhooks/{source}, the same for every source.

A source (one module under sources/, a WebhookSource from base.py) says how its vendor signs a
request, where the sender, the delivery id and the free text are in its payload, and, if its vendor
has an API for it, how to comment back. Everything else is here:

  verify -> JSON -> read the delivery -> find the job id -> cancel (once per signed body)
  -> reply {jobId, state, outcome, message, job}, or 202 and the worker when the caller's deadline is short.

What a text asks is decided by the one command grammar (grammar.py): `<command word> status <job>`
looks at the job instead (read-only: Omni's cancel is not called).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.adapters.dedupe import Deduplicator
from omni_relay.domain.deadline import Deadline, budget_s
from omni_relay.domain.grammar import Command, Verb, job_of, parse_args, parse_texts
from omni_relay.domain.model import CancelOutcome, CancelRequest, Outcome, ReplyTarget
from omni_relay.errors import AlreadyInProgress, MalformedRequest, UnsupportedMediaType
from omni_relay.observability import logger
from omni_relay.presentation.messages import RELAY_MARK, full_text, pending_elsewhere, reported
from omni_relay.settings import Settings
from omni_relay.sources import bounded_json
from omni_relay.sources.base import WebhookSource
from omni_relay.sources.request import Handled, InboundRequest, Reply
from omni_relay.sources.webhook_secret import WebhookConfigs
from omni_relay.usecases.audit import where_asked
from omni_relay.usecases.cancelling import CancelPorts, cancel_or_hand_off, look, over_rate_limit

if TYPE_CHECKING:
    from omni_relay.usecases.later import LaterResults

JSON = "application/json"
# Time kept back from the caller's deadline to comment on the issue and send the callback.
NOTIFY_RESERVE_S = 1.0
DEDUPE_TTL_S = 3600  # how long a signed body is remembered, at least


class WebhookPorts(CancelPorts, Protocol):
    """What the pipeline needs from the outside world (the Runtime, or fakes in tests)."""

    dedupe: Deduplicator
    now: Callable[[], float]
    settings: Settings
    omni_host: str
    webhook_configs: WebhookConfigs
    later: LaterResults  # comments and the callback
    handoff_reserve_s: float  # kept back from the caller's deadline for a hand-off (0 without a queue)


def handle_webhook(request: InboundRequest, source: WebhookSource, ports: WebhookPorts) -> Handled:
    config = ports.webhook_configs.config(source.name)  # read once per request
    source.verify(request, config, ports.now())
    if request.content_type != JSON:
        raise UnsupportedMediaType(f"{source.title} webhooks must be sent as {JSON}.")
    payload = parse_json(request.body)
    delivery = source.read(request, payload, ports.now(), config)
    requester = delivery.requester
    if delivery.delivery_id:
        logger.append_keys(delivery_id=delivery.delivery_id[:100])  # the vendor's id, for support; not the key
    if ignored := delivery.ignore or own_comment(delivery.texts):
        return Handled(source.render(200, {"outcome": "ignored", "message": ignored}), requester)
    job_path = ports.settings.job_id_path(source.name) or source.default_job_path
    found = ask(payload, delivery.texts, job_path, source, ports)
    if found is None or found.verb in (Verb.HELP, Verb.HISTORY) or not found.job_id:
        return Handled(nothing_to_cancel(found, source, ports.settings.command_word), requester)

    asked = CancelRequest(found.job_id, requester, found.reason, where_asked(requester, delivery.thread))
    if limited := over_rate_limit(ports, asked, action="status" if found.read_only else "cancel"):
        reply = source.render(429, answer(limited, source))
        headers = {"Retry-After": str(math.ceil(limited.retry_after_s))}
        return Handled(Reply(reply.status, reply.body, headers), requester, limited)
    budget = budget_s(
        source.deadline_s, ports.settings.deadline_margin_s, reserved_s=NOTIFY_RESERVE_S + ports.handoff_reserve_s
    )
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, budget, wall=ports.now)
    # Whether a result found later can still reach someone: the callback, or a comment API.
    follow_up = bool(ports.settings.callback_url) or source.can_comment(delivery.thread, config)

    def act() -> dict[str, Any]:
        reply_to = ReplyTarget(thread=delivery.thread) if follow_up else None
        if found.read_only:
            outcome = look(ports, asked, deadline, request_id=request.request_id)
        else:
            outcome = cancel_or_hand_off(ports, asked, deadline, reply=reply_to, request_id=request.request_id)
        if outcome.kind is not Outcome.PENDING:
            ports.later.comment(source, delivery.thread, outcome, config)
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
    if outcome.kind is Outcome.PENDING and not source.can_comment(delivery.thread, config):
        body["message"] = pending_elsewhere(outcome.job_id)  # "I will post the result here" would not be true
    return Handled(source.render(status_of(outcome), body), requester, outcome)


def nothing_to_cancel(found: Command | None, source: WebhookSource, word: str) -> Reply:
    """The answer to a delivery that names no job: no command in it, a request for help, or a command
    whose job token is not a job."""
    if found is None:
        return source.render(200, {"outcome": "ignored", "message": f"Nothing to do: no {word} command in this event."})
    if found.verb is Verb.HELP:
        usage = f"Usage: {word} <job UUID or Omni job URL> [reason] to cancel it; {word} status <job> to look at it."
        return source.render(200, {"outcome": "help", "message": usage})
    if found.verb is Verb.HISTORY:
        message = f"{word} history is answered in Slack only: it lists what a Slack user may see."
        return source.render(200, {"outcome": "help", "message": message})
    message = f"No Omni job id was found after {word}: give a job UUID or an Omni job URL."
    return source.render(422, {"error": "no_job_id", "message": message})


def own_comment(texts: Sequence[str]) -> str:
    """Why a delivery is ignored when it is the relay's own comment (every one ends with RELAY_MARK)."""
    return "This is the relay's own comment, not a command." if any(RELAY_MARK in t for t in texts) else ""


# The relay's own refusals, answered 403 (Omni's own refusals are the outcome of a handled request).
REFUSED = frozenset({Outcome.SENDER_NOT_ALLOWED, Outcome.NOT_CONFIGURED, Outcome.NOT_OWNER, Outcome.IDENTITY_UNKNOWN})


def status_of(outcome: CancelOutcome) -> int:
    if outcome.kind is Outcome.PENDING:
        return 202
    if outcome.kind in REFUSED:
        return 403
    return 200  # the request was handled; how the cancel ended is in the body


def answer(outcome: CancelOutcome, source: WebhookSource) -> dict[str, Any]:
    """The reply's JSON, its message as the source shows it (a Teams reply is a message)."""
    return reported(outcome, full_text(outcome, source.literal))


def parse_json(body: bytes) -> Mapping[str, Any]:
    """The body as a JSON object, nested at most MAX_JSON_DEPTH levels (MalformedRequest otherwise)."""
    try:
        payload = bounded_json.loads(body)
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("The body must be a JSON object.")
    return payload


def ask(
    payload: Mapping[str, Any], texts: Sequence[str], job_path: str, source: WebhookSource, ports: WebhookPorts
) -> Command | None:
    """What the delivery asks (grammar.py), or None when it asks nothing. A source whose deliveries are
    always commands (Teams' @mention, a structured sender) reads its text as the command's arguments;
    the others need a command line. The job at the JMESPath (configured, or the source's default) is
    taken only for a command that names no job itself, and only when the value is a job token."""
    if source.needs_command_word:
        command = parse_texts(texts, ports.settings.command_word, ports.omni_host)
    else:
        command = (
            parse_args(" ".join(texts), ports.omni_host) if any(t.strip() for t in texts) else Command(Verb.CANCEL)
        )
    if command is None or command.job_id or command.verb in (Verb.HELP, Verb.HISTORY) or not job_path:
        return command
    value = search(job_path, payload)
    return replace(command, job_id=job_of(value, ports.omni_host)) if isinstance(value, str) else command


def search(expression: str, payload: Mapping[str, Any]) -> Any:
    import jmespath  # imported on the webhook path only
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, payload)
    except JMESPathError:
        return None
