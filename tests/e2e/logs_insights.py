"""The part of CloudWatch Logs Insights' query language the README's queries use, over JSON log
lines, reading fields as Logs Insights does: a JSON line's keys are fields, nested objects flattened
with dots (`audit.requester.principal`), arrays by index (`audit.requester.ids.0`), `@timestamp`
the line's time, `@message` the line.

Commands: `fields a, b`, `filter <term> and <term> …` (term: `f = "v"`, `f != "v"`, `f in ["v", …]`),
`stats count(*) as name by a, b`, `sort f asc|desc`, `limit n`. Anything else is an error, so a
README query this cannot read fails its test instead of passing unread."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

Row = dict[str, Any]

_TERM = re.compile(r'\s*([@\w.]+)\s*(=|!=|in)\s*(\[[^\]]*\]|"[^"]*")\s*')


def flatten(value: Any, prefix: str = "") -> Row:
    if isinstance(value, dict):
        out: Row = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def events(log_text: str) -> list[Row]:
    """The JSON lines of the local stack's log file ("<function> <line>"), as Logs Insights reads them."""
    rows = []
    for line in log_text.splitlines():
        _, _, message = line.partition(" ")
        if not message.startswith("{"):
            continue
        try:
            data = json.loads(message)
        except ValueError:
            continue
        if isinstance(data, dict):
            rows.append({**flatten(data), "@timestamp": str(data.get("timestamp", "")), "@message": message})
    return rows


def _split(query: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for char in query:
        quoted = not quoted if char == '"' else quoted
        depth += (char == "[") - (char == "]") if not quoted else 0
        if char == "|" and not quoted and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


def _matches(row: Row, condition: str) -> bool:
    for term in re.split(r"\s+and\s+", condition):
        found = _TERM.fullmatch(term)
        if not found:
            raise ValueError(f"cannot read the filter term {term!r}")
        field, op, raw = found.groups()
        value = row.get(field)
        wanted = json.loads(raw)
        if op == "=" and value != wanted or op == "!=" and value == wanted or op == "in" and value not in wanted:
            return False
    return True


def run(query: str, rows: list[Row]) -> list[Row]:
    for command in _split(query):
        word, _, rest = command.partition(" ")
        if word == "fields":
            names = [n.strip() for n in rest.split(",")]
            rows = [{n: r.get(n) for n in names} | {"@timestamp": r.get("@timestamp")} for r in rows]
        elif word == "filter":
            rows = [r for r in rows if _matches(r, rest)]
        elif word == "stats":
            found = re.fullmatch(r"count\(\*\) as (\w+) by (.+)", rest.strip())
            if not found:
                raise ValueError(f"cannot read stats {rest!r}")
            name, by = found.group(1), [b.strip() for b in found.group(2).split(",")]
            counts = Counter(tuple(r.get(b) for b in by) for r in rows)
            rows = [dict(zip(by, key, strict=True)) | {name: n} for key, n in counts.items()]
        elif word == "sort":
            field, _, order = rest.strip().partition(" ")
            rows = sorted(rows, key=lambda r: (r.get(field) is None, r.get(field)), reverse=order.strip() == "desc")
        elif word == "limit":
            rows = rows[: int(rest)]
        else:
            raise ValueError(f"cannot read the command {command!r}")
    return rows
