"""HMAC helpers shared by every source: constant-time comparison against each configured secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def matches_any(presented: str, expected: Iterable[str]) -> bool:
    """True if `presented` equals any expected signature. Every candidate is compared, in constant time."""
    given = presented.strip().encode("utf-8", "replace")
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given, candidate.encode("utf-8"))
    return found


def unix_seconds(value: str) -> int | None:
    """A Unix timestamp header, ASCII digits only (int() would also accept other scripts' digits)."""
    value = value.strip()
    if not value or len(value) > 12 or not value.isascii() or not value.isdigit():
        return None
    return int(value)
