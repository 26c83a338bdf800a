"""Diagnostic variant for `make bench`, never deployed: the relay's own code for a slash command (from
the built layer's omni_relay: signature, form, replay and per-sender checks, who may cancel, the cancel,
the Block Kit reply) with nothing of Powertools around it: no resolver, no Logger or Metrics decorators,
no log line, no EMF line. Beside the deployed relay, it shows which part of the relay's time per
request is its own and which is Powertools'."""

import json

from omni_relay import wiring
from omni_relay.sources import slack
from omni_relay.sources.request import InboundRequest


def lambda_handler(event, context):
    runtime = wiring.current()
    reply = slack.handle_command(InboundRequest.from_event(event, runtime.settings.max_body_bytes), runtime).reply
    headers = {"Content-Type": "application/json", **reply.headers}
    return {"statusCode": reply.status, "headers": headers, "body": json.dumps(reply.body)}
