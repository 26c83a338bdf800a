"""Slack's v0 request signing, including Slack's published test vector."""

from __future__ import annotations

import pytest

from omni_relay.errors import InvalidSignature, StaleRequest
from omni_relay.sources.request import InboundRequest
from omni_relay.sources.slack import verify

# Published by Slack (shared/reference/WEBHOOKS.md).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = "1531420618"
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def request(body: bytes = VECTOR_BODY, ts: str = VECTOR_TS, sig: str = VECTOR_SIG) -> InboundRequest:
    return InboundRequest(body=body, headers={"x-slack-request-timestamp": ts, "x-slack-signature": sig})


def test_published_vector_verifies_at_its_own_time():
    verify(request(), [VECTOR_SECRET], now=int(VECTOR_TS))


def test_any_of_several_secrets_verifies_during_rotation():
    verify(request(), ["the-new-secret", VECTOR_SECRET], now=int(VECTOR_TS) + 10)


def test_wrong_secret_is_rejected():
    with pytest.raises(InvalidSignature):
        verify(request(), ["another-secret"], now=int(VECTOR_TS))


@pytest.mark.parametrize("change", [b"text=x", b" ", VECTOR_BODY.replace(b"U2CERLKJA", b"U2CERLKJB")])
def test_a_tampered_body_is_rejected(change: bytes):
    with pytest.raises(InvalidSignature):
        verify(request(body=change), [VECTOR_SECRET], now=int(VECTOR_TS))


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_requests_outside_the_5_minute_window_are_stale(skew: int):
    with pytest.raises(StaleRequest):
        verify(request(), [VECTOR_SECRET], now=int(VECTOR_TS) + skew)


def test_the_edge_of_the_window_still_verifies():
    verify(request(), [VECTOR_SECRET], now=int(VECTOR_TS) + 300)


@pytest.mark.parametrize(
    ("ts", "sig"),
    [("", VECTOR_SIG), (VECTOR_TS, ""), ("1531420618.5", VECTOR_SIG), ("١٥٣١٤٢٠٦١٨", VECTOR_SIG), ("-1", VECTOR_SIG)],
)
def test_missing_or_malformed_headers_are_rejected(ts: str, sig: str):
    with pytest.raises(InvalidSignature):
        verify(request(ts=ts, sig=sig), [VECTOR_SECRET], now=int(VECTOR_TS))


def test_a_non_ascii_signature_is_rejected_not_crashed():
    with pytest.raises(InvalidSignature):
        verify(request(sig="v0=é" + "0" * 63), [VECTOR_SECRET], now=int(VECTOR_TS))
