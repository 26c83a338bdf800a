"""The Omni jobs a Slack message names, as monitoring tools and people post them: its text (Slack's
<url|label> links included), legacy attachments (text, pretext, title and its link, fields) and
Block Kit blocks (sections and their fields, context, header, rich_text with its links).

Which token is a job is grammar.job_of's to decide (a UUID, or a job URL on the configured Omni
host); this module only gathers the message's texts and splits them into tokens. Bounded: at most
MAX_TEXTS texts of MAX_TEXT_CHARS each, nested at most MAX_DEPTH deep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from omni_relay.domain.grammar import job_of

MAX_TEXTS = 200
MAX_TEXT_CHARS = 4000
MAX_DEPTH = 8
# Between tokens: spaces (zero-width ones too). A token that is no URL is also tried piece by piece
# ("job_id=<uuid>", "jobId:<uuid>"); a URL only as a whole, so a UUID in another host's link is no job.
_SPACE = re.compile(r"[\s\u200b\u2060\ufeff]+")
_PIECE = re.compile(r"[=,;:|]")
# The keys of attachments and blocks whose string values are what a reader sees or follows.
# Not "fallback" (shown only where attachments are not) nor a button's or menu's value (never shown).
_TEXT_KEYS = ("text", "pretext", "title", "title_link", "value", "url", "footer", "author_name")


def jobs_in_message(message: Mapping[str, Any], omni_host: str) -> list[str]:
    """The job ids `message` names, each once, in the order a reader meets them."""
    found: dict[str, None] = {}
    for text in _texts(message):
        for token in _SPACE.split(text[:MAX_TEXT_CHARS]):
            job = job_of(token, omni_host) if token else ""
            if not job and token and "://" not in token:
                job = next((j for piece in _PIECE.split(token) if (j := job_of(piece, omni_host))), "")
            if job:
                found.setdefault(job, None)
    return list(found)


def _texts(message: Mapping[str, Any]) -> Iterator[str]:
    walked = _walk([message.get("text"), message.get("attachments"), message.get("blocks")], 0)
    for seen, text in enumerate(walked):
        if seen >= MAX_TEXTS:
            return
        yield text


def _walk(value: object, depth: int) -> Iterator[str]:
    """Every shown string in a message's attachments or blocks, depth first (their order on screen)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)
    elif isinstance(value, Mapping):
        control = "action_id" in value or value.get("type") in ("button", "select", "static_select", "overflow")
        for key in _TEXT_KEYS:
            if key == "value" and control:
                continue
            if isinstance(value.get(key), str):
                yield value[key]
            elif isinstance(value.get(key), Mapping):  # a block's {"type": "mrkdwn", "text": …}
                yield from _walk(value[key], depth + 1)
        for key in ("fields", "elements", "actions"):  # attachment fields, rich_text and context elements
            if isinstance(value.get(key), list):
                yield from _walk(value[key], depth + 1)
