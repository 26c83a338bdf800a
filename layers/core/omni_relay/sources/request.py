"""An inbound HTTP request as the sources see it: exact raw bytes (for signatures), headers, arrival time."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omni_relay.domain.identity import Requester
from omni_relay.domain.model import CancelOutcome
from omni_relay.errors import HeadersTooLarge, MalformedRequest, PayloadTooLarge

# An epoch below this is in seconds (any until the year 5138); in milliseconds it would be before 1973.
SECONDS_BEFORE = 10**11
# An arrival further from now than this (Slack's replay window) is not this request's.
ARRIVAL_TOLERANCE_S = 300

# API Gateway HTTP APIs accept up to 10 KB of request line and headers; no sender of ours needs half.
MAX_HEADER_BYTES = 8 * 1024


@dataclass(frozen=True)
class InboundRequest:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    arrival_epoch_ms: int | None = None
    request_id: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()

    @classmethod
    def from_event(cls, event: Mapping[str, Any], max_body_bytes: int) -> InboundRequest:
        """From an API Gateway HTTP API (payload v2) event; never re-serialises the body."""
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            raise MalformedRequest("The request body could not be read.")
        # Base64 is 4/3 of the bytes it holds: refuse oversized bodies before decoding them.
        if len(raw) > max_body_bytes * (4 / 3 if event.get("isBase64Encoded") else 1) + 4:
            raise PayloadTooLarge(f"The request body is larger than {max_body_bytes} bytes.")
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedRequest("The request body is not valid base64.") from None
        else:
            body = raw.encode("utf-8", "surrogatepass")
        if len(body) > max_body_bytes:
            raise PayloadTooLarge(f"The request body is larger than {max_body_bytes} bytes.")
        raw_headers = event.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise MalformedRequest("The request headers could not be read.")
        headers = {_text(k).lower(): _text(v) for k, v in raw_headers.items()}
        if sum(len(k) + len(v) + 4 for k, v in headers.items()) > MAX_HEADER_BYTES:
            raise HeadersTooLarge(f"The request headers are larger than {MAX_HEADER_BYTES} bytes.")
        context = event.get("requestContext") or {}
        return cls(
            body=body,
            headers=headers,
            arrival_epoch_ms=arrival_ms(context.get("timeEpoch"), time.time()),
            request_id=str(context.get("requestId", "")),
        )


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Handled:
    """What a handler did with one request: the reply, and for the log line and metrics who asked
    (None before the request was read) and how the cancel ended (None when nothing was cancelled)."""

    reply: Reply
    requester: Requester | None = None
    outcome: CancelOutcome | None = None


def arrival_ms(value: object, now: float) -> int | None:
    """requestContext.timeEpoch, when it can be trusted as the request's arrival: epoch milliseconds,
    as API Gateway gives them, within ARRIVAL_TOLERANCE_S of now. Anything else is None, and the
    budget counts from now: a number in seconds is no API Gateway's (SAM CLI's start-api gives
    seconds, and the same value for every request: the time it started, a default argument evaluated
    once; read as milliseconds it is January 1970, and the whole budget spent), nor is a time far
    from now, nor anything but a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < SECONDS_BEFORE:
        return None
    if not abs(value / 1000 - now) <= ARRIVAL_TOLERANCE_S:  # NaN and infinity too
        return None
    return int(value)


def _text(value: object) -> str:
    """A header as text that always encodes: a lone surrogate (no HTTP sender can mean one) becomes U+FFFD."""
    return str(value).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
