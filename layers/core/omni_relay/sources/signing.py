"""HMAC helpers shared by every source: constant-time comparison against each configured secret."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Iterator

# Shorter keys are placeholders or guessable: a source with one stays disabled until a real one is set.
MIN_KEY_CHARS = 16
MIN_KEY_BYTES = 16  # a decoded key (Standard Webhooks' whsec_, Teams' security token)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")  # one-shot, in C (no HMAC object per signature)


def hex_hmacs(secrets: Iterable[str], body: bytes, prefix: str = "") -> Iterator[str]:
    """prefix + hex HMAC-SHA256 of `body` under each secret (GitHub, Jira, PagerDuty, Linear)."""
    return (prefix + hmac_sha256(s.encode("utf-8"), body).hex() for s in secrets)


def presented(signature: str) -> str:
    """A signature header as verification compares it (and as a replay check must key it): without the
    whitespace around it, which no sender means and a replayer may add."""
    return signature.strip()


def matches_any(signature: str, expected: Iterable[str]) -> bool:
    """True if `signature` equals any expected signature. Every candidate is compared, in constant time."""
    given = presented(signature).encode("utf-8", "replace")
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return found


def whsec_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after `whsec_` (ValueError if it is not)."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_ secret") from None


def standard_signature(key: bytes, message_id: str, timestamp: int | str, body: bytes) -> str:
    """Standard Webhooks: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac_sha256(key, signed)).decode()
