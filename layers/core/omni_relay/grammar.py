"""What a text asks: the one command grammar for every surface (the Slack command's text, every
webhook source's comment, note or description).

    command  = WORD sep [verb sep] job [rest]      (for Slack, WORD is the slash command itself)
    WORD     = the command word as a whole token at the start of a line (after any indentation)
    verb     = "status" | "help" | "cancel"        (any case)
    sep      = any run of Unicode spaces (tab, NBSP, U+2000-U+200B, U+3000, …), a ":", "," or ";"
               next to the word or verb counting with them ("status: <job>", "Status, <job>")
    job      = the next token: a job UUID, or a URL of the configured Omni host whose path holds
               /jobs/<UUID> (Slack's <url|label> form and wrapping quotes, backticks or brackets allowed)

Lines quoted with ">", lines inside fenced code blocks (``` or ~~~) and the relay's own comments
never count; nothing else in a text asks for anything. The first command line decides. Linear in
the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from omni_relay.jobref import is_job_id


class Verb(StrEnum):
    CANCEL = "cancel"
    STATUS = "status"
    HELP = "help"


VERBS = {"cancel": Verb.CANCEL, "status": Verb.STATUS, "help": Verb.HELP, "-h": Verb.HELP, "--help": Verb.HELP}
_SPACES = "\u200b\u2060\ufeff"  # zero-width, besides every str.isspace() character (NBSP, U+2000-U+200A, …)
_PUNCTUATION = ":,;"  # may follow the command word or the verb
_WRAPPERS = "`'\"()[]{}<>*_.,;:!?"
_FENCE = re.compile(r"[\s\u200b\u2060\ufeff]*(```|~~~)")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_JOB_IN_PATH = re.compile(rf"/jobs/({_UUID})(?:/|$)")


@dataclass(frozen=True)
class Command:
    """What a command asks: the verb, and the job it names ('' when its job token is not a job)."""

    verb: Verb
    job_id: str = ""
    rest: str = ""  # what follows the job on its line

    @property
    def read_only(self) -> bool:
        return self.verb is not Verb.CANCEL


def _is_space(char: str) -> bool:
    return char.isspace() or char in _SPACES


def _indent_stripped(line: str) -> str:
    """The line without its indentation, zero-width characters included (what a reader sees first)."""
    at = 0
    while at < len(line) and _is_space(line[at]):
        at += 1
    return line[at:]


def _tokens(line: str) -> list[tuple[str, int]]:
    """The line's tokens and where each ends, split at spaces (linear: one pass)."""
    tokens, start = [], None
    for i, char in enumerate(line):
        if _is_space(char):
            if start is not None:
                tokens.append((line[start:i], i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        tokens.append((line[start:], len(line)))
    return tokens


def job_of(token: str, omni_host: str) -> str:
    """The job a token names: a UUID, or a job URL on `omni_host`; '' for anything else."""
    token = token.strip(_WRAPPERS).split("|", 1)[0]  # Slack's <https://…|label>
    if is_job_id(token.lower()):
        return token.lower()
    if not token.lower().startswith(("https://", "http://")) or not omni_host:
        return ""
    try:
        parts = urlsplit(token)
    except ValueError:
        return ""
    if (parts.hostname or "") != omni_host.lower():
        return ""
    found = _JOB_IN_PATH.search(parts.path)
    return found.group(1).lower() if found and is_job_id(found.group(1).lower()) else ""


def parse_args(text: str, omni_host: str) -> Command:
    """A command's arguments (what follows the command word): [verb] job [rest]. An empty text is help."""
    tokens = _tokens(text)
    if not tokens:
        return Command(Verb.HELP)
    verb, at = Verb.CANCEL, 0
    if (word := tokens[0][0].strip(_PUNCTUATION).casefold()) in VERBS:
        verb, at = VERBS[word], 1
    if at >= len(tokens):
        return Command(verb)
    token, end = tokens[at]
    return Command(verb, job_of(token, omni_host), text[end:].strip())


def parse_line(line: str, command_word: str, omni_host: str) -> Command | None:
    """The command on one line, or None when the line does not start with the command word as a whole token."""
    stripped = _indent_stripped(line)
    if stripped[: len(command_word)].casefold() != command_word.casefold():
        return None
    after = stripped[len(command_word) :]
    if after and not (_is_space(after[0]) or after[0] in _PUNCTUATION):
        return None  # "/omni-cancel-relay", "/omni-cancelled": another word
    return parse_args(after.lstrip(_PUNCTUATION), omni_host)


def parse_texts(texts: Iterable[str], command_word: str, omni_host: str) -> Command | None:
    """The first command in `texts` (each a comment, note or field), or None when none asks anything."""
    for text in texts:
        fenced = False
        for line in (text or "").splitlines():
            if _FENCE.match(line):
                fenced = not fenced
                continue
            if fenced or _indent_stripped(line).startswith(">"):
                continue
            if (command := parse_line(line, command_word, omni_host)) is not None:
                return command
    return None


def omni_host_of(base_url: str) -> str:
    """The host job URLs must be on: the configured Omni's."""
    try:
        return (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""
