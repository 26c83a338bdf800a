"""requestContext.timeEpoch is trusted as the arrival time only as API Gateway gives it (epoch
milliseconds, near now). SAM CLI's start-api gives seconds, frozen at the time it started; read as
milliseconds that was January 1970, and every cancel under start-api was handed off before its
first attempt ("Omni did not respond in time")."""

from __future__ import annotations

import time

import pytest

from local.cloud.gateway import http_api_event
from omni_relay.domain.deadline import Deadline
from omni_relay.sources.request import InboundRequest, arrival_ms

NOW = 1_800_000_000.0
BUDGET_S = 1.9  # Slack's 3 s less the margin and the hand-off's reserve


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (int(NOW * 1000) - 1500, int(NOW * 1000) - 1500),  # API Gateway: 1.5 s ago
        (NOW * 1000 - 1500.0, int(NOW * 1000) - 1500),
        (int(NOW), None),  # seconds (SAM CLI's start-api): not an arrival time the relay can trust
        (int(NOW) - 15, None),
        (int(NOW * 1000) - 3_600_000, None),  # an hour ago: not this request's
        (int(NOW * 1000) + 600_000, None),  # ten minutes ahead
        (0, None),
        (-5, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        ("1800000000000", None),
        (None, None),
    ],
)
def test_arrival_is_milliseconds_near_now_or_unknown(value: object, expected: int | None):
    assert arrival_ms(value, NOW) == expected


def sam_start_api_event(started_s: int) -> dict:
    """What SAM CLI 1.170's start-api hands the function: timeEpoch in seconds, from when it started."""
    event = http_api_event("POST", "/slack/commands", {"Content-Type": "application/x-www-form-urlencoded"}, b"x=1")
    event["requestContext"]["timeEpoch"] = started_s
    return event


def test_a_request_under_sam_local_start_api_keeps_its_budget():
    request = InboundRequest.from_event(sam_start_api_event(int(time.time()) - 20), max_body_bytes=1024)
    deadline = Deadline.from_arrival(request.arrival_epoch_ms, BUDGET_S)
    assert deadline.remaining() > BUDGET_S - 0.1


def test_an_api_gateway_arrival_still_counts_against_the_budget():
    event = http_api_event(
        "POST", "/slack/commands", {}, b"x=1", arrival_ms=int(time.time() * 1000) - 1000
    )  # a 1 s cold start
    request = InboundRequest.from_event(event, max_body_bytes=1024)
    assert BUDGET_S - 1.2 < Deadline.from_arrival(request.arrival_epoch_ms, BUDGET_S).remaining() < BUDGET_S - 0.9
