"""Times as senders and Omni write them: a Unix timestamp header, an ISO-8601 field."""

from __future__ import annotations

from datetime import UTC, datetime


def unix_seconds(value: str) -> int | None:
    """A Unix timestamp header, ASCII digits only (int() would also accept other scripts' digits)."""
    value = value.strip()
    if not value or len(value) > 12 or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def iso_seconds(value: object) -> float | None:
    """An ISO-8601 time (2025-01-15T10:00:12.000Z, with an offset or none meaning UTC) as epoch
    seconds; None if absent or unreadable."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
