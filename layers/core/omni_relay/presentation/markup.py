"""Text from Omni or a sender, shown literally in each vendor's markup: it is data, never markup.
Slack's own escaping is in slack_blocks.py; Jira (ADF text nodes), Zendesk and PagerDuty
(plain-text comments) and JSON replies need none."""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")
# &, < and > become entities (no tag such as <at> or <a> is formed); every Markdown punctuation
# character is backslash-escaped. One translate() pass: linear, with a small constant.
_TEAMS = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{c: "\\" + c for c in "\\`*_{}[]()#+-.!|~"}})


def code_span(text: str) -> str:
    """Markdown (GitHub, Linear): a code span, inside which no mention (@org/team), link, image or
    HTML is interpreted. Its fence is one backtick longer than any run inside (CommonMark 6.1)."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def teams_literal(text: str) -> str:
    """Microsoft Teams message text (a Markdown subset with some HTML): entities for &, < and >, so
    no tag (<at>, <a>) is formed, and every Markdown punctuation character backslash-escaped."""
    return text.translate(_TEAMS)
