"""HTTP entry point (API Gateway HTTP API): a thin Powertools resolver. The work is in omni_relay."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from omni_relay import wiring
from omni_relay.errors import (
    ConfigError,
    InvalidSignature,
    RelayError,
    ReplayedRequest,
    SettingsUnavailable,
    StaleRequest,
)
from omni_relay.observability import count, logger, metrics, traced
from omni_relay.sources import slack
from omni_relay.sources.registry import webhook_source
from omni_relay.sources.request import Handled, InboundRequest
from omni_relay.sources.webhook import handle_webhook

app = APIGatewayHttpResolver()
runtime = wiring.current


def _inbound() -> InboundRequest:
    return InboundRequest.from_event(app.current_event.raw_event, runtime().settings.max_body_bytes)


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(body), headers=headers)


def _answer(source: str, handled: Handled) -> Response:
    """One log line and one metric per answered request, with who asked and how it ended; then the reply."""
    requester, outcome, reply = handled.requester, handled.outcome, handled.reply
    if requester is not None:
        logger.append_keys(principal=requester.principal, actor=requester.actor.value, scope=requester.scope)
    if outcome is not None:
        logger.info(
            "cancel answered",
            extra={
                "source": source,
                "job_id": outcome.job_id,
                "outcome": outcome.kind.value,
                "detail": outcome.detail,
            },
        )
        # In the request's own metric set (one EMF line per request, flushed by log_metrics).
        metrics.add_dimension(name="source", value=source)
        metrics.add_dimension(name="outcome", value=outcome.kind.value)
        metrics.add_metric(name="Outcomes", unit=MetricUnit.Count, value=1)
    return _json(reply.status, reply.body, dict(reply.headers))


@app.post("/slack/commands")
def slack_command() -> Response:
    return _answer("slack", slack.handle_command(_inbound(), runtime()))


@app.post("/slack/interactions")
def slack_interaction() -> Response:
    rt = runtime()
    rt.dedupe.register_lambda_context(app.lambda_context)
    return _answer("slack-button", slack.handle_interaction(_inbound(), rt))


@app.post("/slack/events")
def slack_events() -> Response:
    from omni_relay.sources import slack_unfurl  # only where link unfurls are subscribed: off the commands' path

    rt = runtime()
    rt.dedupe.register_lambda_context(app.lambda_context)
    return _answer("slack-unfurl", slack_unfurl.handle_event(_inbound(), rt))


@app.post("/webhooks/<name>")
def webhook(name: str) -> Response:
    source = webhook_source(name)
    if source is None:
        return _json(404, {"error": "unknown_source", "message": "No such webhook source."})
    rt = runtime()
    rt.dedupe.register_lambda_context(app.lambda_context)
    return _answer(name, handle_webhook(_inbound(), source, rt))


@app.exception_handler(RelayError)
def relay_error(exc: RelayError) -> Response:
    if isinstance(exc, InvalidSignature | StaleRequest | ReplayedRequest):
        count("RejectedSignatures", reason=exc.code)
    count("RejectedRequests", reason=exc.code)
    logger.warning("request rejected", extra={"error": exc.code, "reason": exc.message})
    if isinstance(exc, SettingsUnavailable) and _is_slack():
        # Slack shows any non-200 as a failure with no explanation: say what happened instead.
        return _json(200, {"response_type": "ephemeral", "text": exc.message + " Try again in a minute."})
    headers = {"Retry-After": "30"} if exc.status == 503 else None
    return _json(exc.status, {"error": exc.code, "message": exc.message}, headers)


@app.exception_handler(ConfigError)
def config_error(exc: ConfigError) -> Response:
    logger.error("the relay is misconfigured", extra={"reason": str(exc)})
    message = "The relay is misconfigured; its operator can find the details in its logs."
    if _is_slack():
        return _json(200, {"response_type": "ephemeral", "text": message})
    # 503 + Retry-After, as for unreadable settings: webhook senders retry, and succeed once it is fixed.
    return _json(503, {"error": "relay_misconfigured", "message": message}, {"Retry-After": "300"})


@app.not_found
def not_found(_exc: Exception) -> Response:
    return _json(404, {"error": "not_found", "message": "No such route."})


def _is_slack() -> bool:
    return app.current_event.path.startswith("/slack/")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if problem := envelope_problem(event):
        # Not something API Gateway sends (a direct invoke, a hand-edited event): refuse it plainly.
        logger.warning("malformed invocation event", extra={"reason": problem})
        return {
            "statusCode": 400,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"error": "malformed_event", "message": problem}),
        }
    # API Gateway's request id, read directly (a JMESPath correlation path costs more per request).
    logger.set_correlation_id(event["requestContext"].get("requestId"))
    return app.resolve(event, context)


def envelope_problem(event: object) -> str:
    """What makes `event` not an API Gateway HTTP API (payload 2.0) request, or "" if nothing does."""
    if not isinstance(event, dict):
        return "The event is not an object."
    context, headers, body = event.get("requestContext"), event.get("headers", {}), event.get("body")
    if not isinstance(context, dict) or not isinstance(context.get("http"), dict):
        return "The event has no requestContext.http."
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        return "The event's headers must map strings to strings."
    if body is not None and not isinstance(body, str):
        return "The event's body must be a string."
    return ""
