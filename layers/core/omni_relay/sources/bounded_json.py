"""JSON from untrusted senders: nested no deeper than MAX_JSON_DEPTH, and no object repeating a key.

Python's decoder recurses once per level and stops with RecursionError somewhere near a thousand,
depending on how deep the caller already is; the relay refuses anything deeper than a fixed, documented
maximum instead, with the same 400 JSON error for every sender. Real deliveries nest far less (a GitHub,
Jira or Zendesk payload, or a Slack interaction, about ten levels).
"""

from __future__ import annotations

from typing import Any

from omni_relay.errors import MalformedRequest

MAX_JSON_DEPTH = 64


class TooDeep(MalformedRequest):
    pass


def loads(text: str | bytes) -> Any:
    """json.loads, refusing (TooDeep) a value nested deeper than MAX_JSON_DEPTH; ValueError if it is not JSON."""
    import json

    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _too_deep() from None
    # Only a body with more brackets than the maximum can nest deeper than it (counted in C, at memory speed).
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise _too_deep()
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refused (ValueError) when it repeats a key: decoders disagree on which value wins, and a
    signed body must mean one thing (a placeholder filled with '", "user_role": "admin' would repeat one)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a repeated key")
    return found


def _too_deep() -> TooDeep:
    return TooDeep(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests arrays and objects more than `limit` levels deep (without recursion)."""
    if not isinstance(value, dict | list):
        return False
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)]
        level = [child for child in level if isinstance(child, dict | list)]
        if not level:
            return False
    return bool(level)
