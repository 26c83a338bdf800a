"""What a text asks: the one command grammar for every surface (the Slack command's text, every
webhook source's comment, note or description).

    command  = WORD sep [verb sep] job [rest]      (for Slack, WORD is the slash command itself)
    WORD     = the command word as a whole token at the start of a line (after up to three columns of
               indentation: four, or a tab, is a Markdown code block)
    verb     = "status" | "help" | "cancel" | "history"   (any case; "history [n]" names no job)
    sep      = any run of Unicode spaces (tab, NBSP, U+2000-U+200B, U+3000, …), a ":", "," or ";"
               next to the word or verb counting with them ("status: <job>", "Status, <job>")
    job      = the next token: a job UUID, or a URL of the configured Omni host whose path holds
               /jobs/<UUID> (Slack's <url|label> form and wrapping quotes, backticks or brackets allowed)
    rest     = what follows the job on its line: a cancel's reason ("because it scans 4 TB")

Never read: lines quoted with ">" (also after a list marker), fenced code blocks (``` or ~~~, closed
only by a fence of the same character at least as long, as Markdown does), indented code, HTML
comments and <blockquote>/<pre>/<code> elements, Jira's {quote}, {code} and {noformat} blocks (an
unclosed one hides the rest of the text), code spans across lines, a quote's lazy continuation, and
the relay's own comments. Lines end where Markdown ends them ("\n", "\r\n", "\r"; U+2028, U+0085
or a form feed do not start a line). Nothing else in a text asks for
anything. The first command line decides. Linear in the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from omni_relay.domain.jobref import is_job_id


class Verb(StrEnum):
    CANCEL = "cancel"
    STATUS = "status"
    HELP = "help"
    HISTORY = "history"


VERBS = {
    "cancel": Verb.CANCEL,
    "status": Verb.STATUS,
    "help": Verb.HELP,
    "-h": Verb.HELP,
    "--help": Verb.HELP,
    "history": Verb.HISTORY,
}
REASON_CHARS = 300  # a reason is a sentence, not an essay: what is kept, stored and shown
HISTORY_DEFAULT, HISTORY_MAX = 10, 50
_SPACES = "\u200b\u2060\ufeff"  # zero-width, besides every str.isspace() character (NBSP, U+2000-U+200A, …)
_PUNCTUATION = ":,;"  # may follow the command word or the verb
_WRAPPERS = "`'\"()[]{}<>*_.,;:!?"
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_LIST_OR_QUOTE = re.compile(r"(?:(?:[-*+]|\d{1,9}[.)])[ \t]+|>[ \t]?)*")
# Regions never read, case-insensitive: openers, and the closer each needs.
# (A Jira macro's opener ends at its first "}": found with str.find, however long its parameters.)
_HIDDEN = re.compile(r"<!--|<blockquote\b|<pre\b|<code\b|\{(?:quote|code|noformat)(?=[:}])", re.IGNORECASE)
_LINE_END = re.compile(r"\r\n|\r|\n")  # Markdown's line endings; not U+2028, U+0085 or a form feed
_BACKTICKS = re.compile(r"`+")
_FENCE_RUN = re.compile(r"^[ \t>*+-]*(`{3,})", re.MULTILINE)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CLOSERS = {
    "<!": "-->",
    "<b": "</blockquote>",
    "<p": "</pre>",
    "<c": "</code>",
    "{q": "{quote}",
    "{c": "{code}",
    "{n": "{noformat}",
}
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

    @property
    def reason(self) -> str:
        """Why, as the requester wrote it after the job (a cancel's only): one line, control characters
        and runs of spaces made single spaces, at most REASON_CHARS."""
        if self.verb is not Verb.CANCEL:
            return ""
        return one_line(self.rest)[:REASON_CHARS]

    @property
    def history_size(self) -> int:
        """`history [n]`: how many decisions to show (HISTORY_DEFAULT when n is missing or not a number)."""
        word = self.rest.split(maxsplit=1)[0] if self.rest.split() else ""
        if not (word.isascii() and word.isdigit()):
            return HISTORY_DEFAULT
        return max(1, min(int(word), HISTORY_MAX))


def one_line(text: str) -> str:
    """`text` as one line: every run of spaces or control characters one space."""
    return " ".join("".join(c if c.isprintable() and not _is_space(c) else " " for c in text).split())


def _is_space(char: str) -> bool:
    return char.isspace() or char in _SPACES


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
    if "@" in parts.netloc or "\\" in token or (parts.hostname or "") != omni_host.lower():
        return ""
    if "/." in parts.path or "%2e" in parts.path.lower():  # "/jobs/A/../../jobs/B" opens B, not A
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
    if verb is Verb.HISTORY:
        return Command(verb, rest=text[tokens[0][1] :].strip())  # "history [n]": no job
    if at >= len(tokens):
        return Command(verb)
    token, end = tokens[at]
    return Command(verb, job_of(token, omni_host), text[end:].strip())


def parse_line(stripped: str, command_word: str, omni_host: str) -> Command | None:
    """The command on one line (its indentation removed), or None when the line does not start with
    the command word as a whole token."""
    if stripped[: len(command_word)].casefold() != command_word.casefold():
        return None
    after = stripped[len(command_word) :]
    if after and not (_is_space(after[0]) or after[0] in _PUNCTUATION):
        return None  # "/omni-cancel-relay", "/omni-cancelled": another word
    return parse_args(after.lstrip(_PUNCTUATION), omni_host)


def parse_texts(texts: Iterable[str], command_word: str, omni_host: str) -> Command | None:
    """The first command in `texts` (each a comment, note or field), or None when none asks anything."""
    for text in texts:
        fence: tuple[str, int] | None = None  # the open fence's character and length
        quoting = False  # inside a quote's paragraph: a following line without ">" still belongs to it
        for raw in _LINE_END.split(visible(text or "")):
            columns, line = _indentation(raw)
            marked = _LIST_OR_QUOTE.match(line)
            body = line[marked.end() :] if marked else line
            if (found := _FENCE.match(body)) and columns < 4:  # four columns in, a fence is content
                run, after = found.group(1), found.group(2)
                if fence is None and not (run[0] == "`" and "`" in after):  # "``` `x` ```" is inline code
                    fence = (run[0], len(run))
                elif fence is not None and run[0] == fence[0] and len(run) >= fence[1] and not after.strip():
                    fence = None
                continue
            quoted = ">" in line[: marked.end() if marked else 0]
            quoting = bool(line.strip()) and (quoted or quoting)
            if fence is not None or columns >= 4 or quoting:
                continue
            if (command := parse_line(line, command_word, omni_host)) is not None:
                return command
    return None


def visible(text: str) -> str:
    """`text` without what is never read: HTML comments and quoting or code elements, Jira's macros
    (each becomes a line break; an unclosed one hides the rest), and code spans that run across lines.
    Linear: every search starts where the last one ended."""
    kept, at = [], 0
    folded = text.translate(_ASCII_LOWER)  # the same length as `text`, unlike lower() ("İ")
    while (opened := _HIDDEN.search(text, at)) is not None:
        kept.append(text[at : opened.start()])
        start = opened.end()
        if opened.group().startswith("{") and (start := folded.find("}", start) + 1) == 0:
            return "\n".join(kept)  # a macro whose opener never ends hides the rest
        closer = _CLOSERS[opened.group()[:2].lower()]
        end = folded.find(closer, start)
        if end < 0:
            return "\n".join(kept)  # unclosed: it hides the rest
        kept.append("\n")
        at = end + len(closer)
    kept.append(text[at:])
    return _without_multiline_code_spans("".join(kept))


def _without_multiline_code_spans(text: str) -> str:
    """A code span (a run of backticks to the next run of the same length, as Markdown pairs them)
    that holds a line break, replaced by a space: its lines are code. Spans on one line stay (a job
    may be written `<job>`). Linear: each run is paired at most once, with its length's next run."""
    fences = {m.start(1) for m in _FENCE_RUN.finditer(text)}  # block structure first, as Markdown reads it
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text) if m.start() not in fences]
    by_length: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(i)
    rank = {i: k for same in by_length.values() for k, i in enumerate(same)}
    kept, at, i = [], 0, 0
    while i < len(runs):
        start, end = runs[i]
        same = by_length[end - start]
        if rank[i] + 1 >= len(same):
            i += 1  # no closer: literal backticks
            continue
        j = same[rank[i] + 1]
        inside = text[end : runs[j][0]]
        if "\n" in inside or "\r" in inside:
            kept.append(text[at:start] + " ")
            at = runs[j][1]
        i = j + 1
    kept.append(text[at:])
    return "".join(kept)


def _indentation(line: str) -> tuple[int, str]:
    """The line's indentation in columns (a tab to the next multiple of four, zero-width characters
    none) and the line after it."""
    columns, at = 0, 0
    while at < len(line) and _is_space(line[at]):
        char = line[at]
        columns = (columns // 4 + 1) * 4 if char == "\t" else columns + (0 if char in _SPACES else 1)
        at += 1
    return columns, line[at:]


def omni_host_of(base_url: str) -> str:
    """The host job URLs must be on: the configured Omni's."""
    try:
        return (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""
