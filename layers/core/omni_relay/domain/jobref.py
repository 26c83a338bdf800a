"""What an Omni AI job id is: a canonical UUID (grammar.py reads one from what a person typed)."""

from __future__ import annotations

import uuid


def is_job_id(value: str) -> bool:
    """True for a canonical UUID (Omni rejects anything else with 400)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
